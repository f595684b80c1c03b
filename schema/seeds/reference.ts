import type { aiProviders } from '../providers';
import type { featureFlags, systemSettings } from '../system';

/** Days audio recordings are kept; the seeded setting and the storage lifecycle both read this. */
export const AUDIO_RETENTION_DAYS = 90;

const apiKeySchema = {
  required: ['apiKey'],
  properties: { apiKey: { type: 'string', description: 'API key', secret: true } },
} as const;

export const AI_PROVIDERS: (typeof aiProviders.$inferInsert)[] = [
  {
    name: 'OPENAI',
    displayName: 'OpenAI',
    description: 'OpenAI GPT models and services',
    apiEndpointBase: 'https://api.openai.com/v1',
    authenticationType: 'API_KEY',
    supportedFeatures: ['TTS', 'STT', 'LLM'],
    configurationSchema: {
      required: ['apiKey'],
      properties: {
        ...apiKeySchema.properties,
        organization: { type: 'string', description: 'Organisation id, if the key belongs to several' },
      },
    },
    defaultConfiguration: { ttsModel: 'tts-1', sttModel: 'whisper-1', llmModel: 'gpt-4o-mini', voice: 'alloy' },
  },
  {
    name: 'GOOGLE',
    displayName: 'Google Cloud AI',
    description: 'Google Cloud AI/ML services',
    apiEndpointBase: 'https://texttospeech.googleapis.com/v1',
    authenticationType: 'SERVICE_ACCOUNT',
    supportedFeatures: ['TTS', 'STT', 'LLM'],
    configurationSchema: {
      required: ['projectId', 'credentialsJson'],
      properties: {
        projectId: { type: 'string', description: 'Google Cloud project id' },
        credentialsJson: { type: 'string', description: 'Service account key (JSON)', secret: true },
      },
    },
    defaultConfiguration: { languageCode: 'en-US', voiceName: 'en-US-Neural2-C' },
  },
  {
    name: 'AWS',
    displayName: 'Amazon Web Services',
    description: 'Amazon Polly, Transcribe and Bedrock',
    apiEndpointBase: 'https://polly.us-east-1.amazonaws.com',
    authenticationType: 'IAM',
    supportedFeatures: ['TTS', 'STT', 'LLM'],
    configurationSchema: {
      required: ['region', 'accessKeyId', 'secretAccessKey'],
      properties: {
        region: { type: 'string', description: 'AWS region, e.g. us-east-1' },
        accessKeyId: { type: 'string', description: 'Access key id' },
        secretAccessKey: { type: 'string', description: 'Secret access key', secret: true },
      },
    },
    defaultConfiguration: { region: 'us-east-1', voiceId: 'Joanna', engine: 'neural' },
  },
  {
    name: 'AZURE',
    displayName: 'Microsoft Azure AI Speech',
    description: 'Azure AI Speech (with pronunciation assessment) and Azure OpenAI',
    apiEndpointBase: 'https://eastus.api.cognitive.microsoft.com',
    authenticationType: 'API_KEY',
    supportedFeatures: ['TTS', 'STT', 'LLM', 'PRONUNCIATION_ASSESSMENT'],
    configurationSchema: {
      required: ['apiKey', 'region'],
      properties: {
        ...apiKeySchema.properties,
        region: { type: 'string', description: 'Azure region of the Speech resource, e.g. eastus' },
      },
    },
    defaultConfiguration: { region: 'eastus', voiceName: 'en-US-JennyNeural' },
  },
  {
    name: 'LOCAL',
    displayName: 'Local models',
    description: 'Self-hosted speech and language models on the local network (e.g. Whisper, Piper)',
    apiEndpointBase: 'http://localhost:8000/v1',
    authenticationType: 'NONE',
    supportedFeatures: ['TTS', 'STT', 'LLM'],
    configurationSchema: {
      required: ['baseUrl'],
      properties: { baseUrl: { type: 'string', description: 'Base URL of the local inference server' } },
    },
    defaultConfiguration: { baseUrl: 'http://localhost:8000/v1' },
  },
];

export const SYSTEM_SETTINGS: (typeof systemSettings.$inferInsert)[] = [
  { key: 'max_file_size_mb', value: 50, description: 'Maximum file size for uploads in MB', category: 'upload' },
  { key: 'allowed_file_types', value: ['pdf', 'docx', 'txt'], description: 'Allowed file types for upload', category: 'upload' },
  { key: 'default_tts_provider', value: 'OPENAI', description: 'Default TTS provider', category: 'ai' },
  { key: 'default_stt_provider', value: 'OPENAI', description: 'Default STT provider', category: 'ai' },
  { key: 'default_llm_provider', value: 'OPENAI', description: 'Default LLM provider', category: 'ai' },
  { key: 'free_tier_quota_per_day', value: 10, description: 'Daily API quota for free users', category: 'billing' },
  { key: 'audio_retention_days', value: AUDIO_RETENTION_DAYS, description: 'Days to retain audio recordings', category: 'storage' },
];

export const FEATURE_FLAGS: (typeof featureFlags.$inferInsert)[] = [
  { name: 'advanced_feedback', isEnabled: false, description: 'Enable detailed pronunciation feedback' },
  { name: 'real_time_processing', isEnabled: false, description: 'Enable real-time audio processing' },
  { name: 'offline_mode', isEnabled: false, description: 'Enable offline practice mode' },
  { name: 'social_features', isEnabled: false, description: 'Enable sharing and community features' },
];
