import { createHash } from 'node:crypto';
import type { audioProcessingResults, audioRecordings } from '../audio';
import type { ConversationScript, conversationSessions, conversations } from '../conversations';
import type { documents, documentVersions } from '../documents';
import { type pronunciationFeedback, SKILL_AREAS, type SkillArea, type userProgress } from '../feedback';
import type { users } from '../users';

/**
 * A small, coherent data set for development: one learner practising a conversation generated
 * from one of their documents. Ids are fixed so that seeding twice changes nothing.
 */
export const demoId = (n: number): string => `00000000-0000-4000-a000-${n.toString(16).padStart(12, '0')}`;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const words = (text: string) => text.split(/\s+/).filter(Boolean).length;
const at = (iso: string) => new Date(iso);

export const DEMO_USER_ID = demoId(1);

export const DEMO_USERS: (typeof users.$inferInsert)[] = [
  {
    id: DEMO_USER_ID,
    email: 'demo.learner@example.com',
    name: 'Demo Learner',
    emailVerified: true,
    preferences: { locale: 'en-GB', accent: 'en-US', playbackSpeed: 0.9, dailyGoalMinutes: 15 },
    loginCount: 3,
    lastLogin: at('2026-01-15T08:30:00Z'),
  },
];

const MINIMAL_PAIRS = `# Minimal pairs: ship and sheep

English separates the short vowel in *ship* from the long vowel in *sheep*. Many learners say both
the same way, and then "I saw a big ship" becomes "I saw a big sheep".

For the short vowel, keep the tongue relaxed and a little lower, and keep the sound brief.
For the long vowel, spread the lips slightly, raise the tongue, and hold the sound longer.

Practise these pairs slowly, then at normal speed: ship and sheep, bit and beat, fill and feel,
live and leave, sit and seat, chip and cheap.`;

const WORD_STRESS = `# Word stress changes meaning

Some English words change their stress when they change their role. As a noun, *record* is
stressed on the first syllable: a REcord. As a verb it is stressed on the second: to reCORD.

The same happens with present, object, permit and contract. Listen for the strong syllable: it is
longer, louder and higher than the others, and its vowel is clear. The weak syllable often reduces
to a short, neutral sound.`;

const COFFEE_SHOP = `# At the coffee shop

Ordering a drink is short, quick and full of linking sounds. "Can I have a" often sounds like
"canIhava". Stress the words that carry the meaning, the size and the drink, and let the small
words run together: "Could I get a LARGE FLAT WHITE, please?"`;

function document(n: number, title: string, description: string, content: string, isPublic: boolean) {
  const wordCount = words(content);
  return {
    id: demoId(n),
    userId: DEMO_USER_ID,
    title,
    description,
    originalFilename: `${title.toLowerCase().replace(/[^a-z]+/g, '-')}.md`,
    fileSize: Buffer.byteLength(content),
    fileMimeType: 'text/markdown',
    filePath: `documents/${DEMO_USER_ID}/${demoId(n)}.md`,
    content,
    contentHash: sha256(content),
    status: 'READY' as const,
    processingProgress: 100,
    wordCount,
    readingTimeMinutes: Math.max(1, Math.round(wordCount / 200)),
    tags: ['pronunciation', 'demo'],
    isPublic,
  };
}

export const DEMO_DOCUMENTS: (typeof documents.$inferInsert)[] = [
  document(101, 'Minimal pairs: ship and sheep', 'Short and long vowels that change meaning', MINIMAL_PAIRS, false),
  document(102, 'Word stress changes meaning', 'Nouns and verbs that differ only in stress', WORD_STRESS, true),
  document(103, 'At the coffee shop', 'Linking and sentence stress in everyday orders', COFFEE_SHOP, false),
];

export const DEMO_DOCUMENT_VERSIONS: (typeof documentVersions.$inferInsert)[] = [
  {
    id: demoId(151),
    documentId: demoId(101),
    versionNumber: 1,
    content: MINIMAL_PAIRS,
    changeSummary: 'Converted from the uploaded file',
    createdBy: DEMO_USER_ID,
  },
];

const SCRIPT: ConversationScript = {
  roles: ['PERSON_A', 'PERSON_B'],
  setting: 'A learner (A) orders at a harbour café; the barista (B) takes the order.',
  turns: [
    { turn: 1, speaker: 'PERSON_B', text: 'Hi there, what can I get you?' },
    { turn: 2, speaker: 'PERSON_A', text: 'Could I get a large flat white, please?', hint: 'Stress LARGE and FLAT WHITE.' },
    { turn: 3, speaker: 'PERSON_B', text: 'Sure. Anything to eat? The cheese scones are fresh.' },
    { turn: 4, speaker: 'PERSON_A', text: 'No thanks, just the coffee. Is that the ship from Leeds?', hint: 'Short vowel in "ship".' },
    { turn: 5, speaker: 'PERSON_B', text: "That's the ferry. It leaves at six." },
    { turn: 6, speaker: 'PERSON_A', text: "Great, then I'll sit and wait here. Thanks!", hint: 'Short vowel in "sit".' },
  ],
};

export const DEMO_CONVERSATION_ID = demoId(201);

export const DEMO_CONVERSATIONS: (typeof conversations.$inferInsert)[] = [
  {
    id: DEMO_CONVERSATION_ID,
    userId: DEMO_USER_ID,
    documentId: demoId(103),
    title: 'Ordering at the harbour café',
    description: 'Sentence stress and the ship/sheep vowels in a real exchange',
    scriptContent: SCRIPT,
    scriptGenerationMode: 'DOCUMENT_BASED',
    generationPrompt: 'Write a six-turn café dialogue practising sentence stress and short /ɪ/.',
    sourceDocumentHash: sha256(COFFEE_SHOP),
    difficultyLevel: 'BEGINNER',
    topicTags: ['cafe', 'ordering', 'vowels'],
    estimatedDurationMinutes: 5,
    status: 'ACTIVE',
    currentTurn: 4,
    totalTurns: SCRIPT.turns.length,
    userRole: 'PERSON_A',
    usageCount: 1,
  },
];

export const DEMO_SESSION_ID = demoId(301);

export const DEMO_SESSIONS: (typeof conversationSessions.$inferInsert)[] = [
  {
    id: DEMO_SESSION_ID,
    conversationId: DEMO_CONVERSATION_ID,
    userId: DEMO_USER_ID,
    startedAt: at('2026-01-15T08:31:00Z'),
    endedAt: at('2026-01-15T08:36:30Z'),
    durationSeconds: 330,
    completedTurns: 2,
    totalTurns: 3,
    completionPercentage: 67,
    overallScore: 78.5,
    notes: 'Good sentence stress; the short vowel in "ship" still drifts long.',
    deviceType: 'DESKTOP',
  },
];

const learnerTurns = SCRIPT.turns.filter((t) => t.speaker === 'PERSON_A');

export const DEMO_RECORDINGS: (typeof audioRecordings.$inferInsert)[] = learnerTurns.slice(0, 2).map((t, i) => ({
  id: demoId(401 + i),
  userId: DEMO_USER_ID,
  conversationSessionId: DEMO_SESSION_ID,
  conversationId: DEMO_CONVERSATION_ID,
  turnNumber: t.turn,
  scriptLine: t.text,
  originalFilename: `turn-${t.turn}.webm`,
  fileSize: 48_000 + i * 9_500,
  fileMimeType: 'audio/webm',
  filePath: `recordings/${DEMO_USER_ID}/${DEMO_SESSION_ID}/turn-${t.turn}.webm`,
  audioFormat: 'WEBM',
  durationSeconds: 2.84 + i * 0.9,
  sampleRate: 48_000,
  bitRate: 128_000,
  channels: 1,
  recordingQuality: 'STANDARD',
  backgroundNoiseLevel: 12.5,
}));

export const DEMO_PROCESSING_RESULTS: (typeof audioProcessingResults.$inferInsert)[] = [
  {
    id: demoId(501),
    audioRecordingId: demoId(401),
    transcription: 'Could I get a large flat white, please?',
    confidenceScore: 0.94,
    processingProvider: 'whisper',
    processingTimeMs: 640,
    processingCost: '0.000300',
    wordTimestamps: [
      { word: 'Could', start: 0.1, end: 0.32 },
      { word: 'I', start: 0.32, end: 0.4 },
      { word: 'get', start: 0.4, end: 0.58 },
      { word: 'a', start: 0.58, end: 0.63 },
      { word: 'large', start: 0.63, end: 1.05 },
      { word: 'flat', start: 1.05, end: 1.38 },
      { word: 'white', start: 1.38, end: 1.8 },
      { word: 'please', start: 1.95, end: 2.5 },
    ],
    alternativeTranscriptions: [{ text: 'Could I get a large flat white please', confidence: 0.9 }],
  },
  {
    id: demoId(502),
    audioRecordingId: demoId(402),
    transcription: 'No thanks, just the coffee. Is that the sheep from Leeds?',
    confidenceScore: 0.81,
    processingProvider: 'whisper',
    processingTimeMs: 720,
    processingCost: '0.000350',
    alternativeTranscriptions: [{ text: 'No thanks, just the coffee. Is that the ship from Leeds?', confidence: 0.74 }],
  },
];

export const DEMO_FEEDBACK: (typeof pronunciationFeedback.$inferInsert)[] = [
  {
    id: demoId(601),
    audioRecordingId: demoId(401),
    userId: DEMO_USER_ID,
    feedbackType: 'RHYTHM',
    overallScore: 86,
    detailedScores: { sentenceStress: 90, linking: 82 },
    wordLevelFeedback: [
      { word: 'large', score: 92 },
      { word: 'flat', score: 88 },
      { word: 'white', score: 85 },
    ],
    suggestions: ['Link "get a" into one unit: "ge-ta".'],
    strengths: ['Clear stress on the key words'],
    areasForImprovement: ['Linking of function words'],
    processingProvider: 'AZURE',
    processingModel: 'pronunciation-assessment',
    processingTimeMs: 410,
    processingCost: '0.000150',
    confidenceLevel: 0.88,
  },
  {
    id: demoId(602),
    audioRecordingId: demoId(402),
    userId: DEMO_USER_ID,
    feedbackType: 'PRONUNCIATION',
    overallScore: 71,
    detailedScores: { vowels: 62, consonants: 84 },
    phoneticAccuracy: [{ phoneme: 'ɪ', expected: 'ɪ', actual: 'iː', score: 38 }],
    wordLevelFeedback: [{ word: 'ship', score: 40, issue: 'Vowel too long: heard as "sheep"' }],
    suggestions: ['Keep the vowel in "ship" short and relaxed; contrast it with "sheep".'],
    strengths: ['Clear final consonants'],
    areasForImprovement: ['Short /ɪ/ versus long /iː/'],
    processingProvider: 'AZURE',
    processingModel: 'pronunciation-assessment',
    processingTimeMs: 455,
    processingCost: '0.000150',
    confidenceLevel: 0.79,
  },
];

const LEVELS: Record<SkillArea, { currentLevel: number; targetLevel: number }> = {
  pronunciation: { currentLevel: 64, targetLevel: 80 },
  fluency: { currentLevel: 70, targetLevel: 85 },
  rhythm: { currentLevel: 78, targetLevel: 85 },
  intonation: { currentLevel: 59, targetLevel: 75 },
};
const SKILLS = SKILL_AREAS.map((skillArea) => ({ skillArea, ...LEVELS[skillArea] }));

export const DEMO_PROGRESS: (typeof userProgress.$inferInsert)[] = SKILLS.map((s, i) => ({
  id: demoId(701 + i),
  userId: DEMO_USER_ID,
  ...s,
  progressHistory: [
    { date: '2026-01-13', score: s.currentLevel - 6 },
    { date: '2026-01-14', score: s.currentLevel - 2 },
    { date: '2026-01-15', score: s.currentLevel },
  ],
  practiceSessionsCount: 3,
  totalPracticeTimeMinutes: 17,
  averageSessionScore: s.currentLevel - 3,
  lastPracticeDate: at('2026-01-15T08:36:30Z'),
  streakDays: 3,
  longestStreakDays: 3,
  achievements: ['first-session', 'three-day-streak'],
  nextMilestone: 'Practise five days in a row',
}));
