import {
  boolean,
  date,
  index,
  integer,
  jsonb,
  numeric,
  pgEnum,
  pgTable,
  text,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import { createdAt, id, updatedAt } from './columns';
import { ownerUserId, users } from './users';

export const aiProviderEnum = pgEnum('ai_provider', ['OPENAI', 'GOOGLE', 'AWS', 'AZURE', 'LOCAL']);
export type AiProviderName = (typeof aiProviderEnum.enumValues)[number];

/** What a provider can be used for. */
export type AiFeature = 'TTS' | 'STT' | 'LLM' | 'PRONUNCIATION_ASSESSMENT';
export type AuthenticationType = 'API_KEY' | 'OAUTH' | 'SERVICE_ACCOUNT' | 'IAM' | 'NONE';

export interface PricingModel {
  currency: 'USD';
  /** Price per unit, keyed by feature, e.g. { TTS: { unit: '1M characters', price: 15 } }. */
  rates: Partial<Record<AiFeature, { unit: string; price: number }>>;
}

/** A JSON-Schema-like description of the settings a provider needs. */
export interface ConfigurationSchema {
  required: string[];
  properties: Record<string, { type: 'string' | 'number' | 'boolean'; description: string; secret?: boolean }>;
}

export type ProviderConfiguration = Record<string, string | number | boolean>;

export const aiProviders = pgTable('ai_providers', {
  id: id(),
  name: aiProviderEnum('name').notNull().unique('ai_providers_name_key'),
  displayName: varchar('display_name', { length: 100 }).notNull(),
  description: text('description'),
  apiEndpointBase: varchar('api_endpoint_base', { length: 255 }),
  authenticationType: varchar('authentication_type', { length: 50 }).$type<AuthenticationType>(),
  isConfigured: boolean('is_configured').notNull().default(false),
  isActive: boolean('is_active').notNull().default(true),
  rateLimitPerMinute: integer('rate_limit_per_minute'),
  rateLimitPerHour: integer('rate_limit_per_hour'),
  pricingModel: jsonb('pricing_model').$type<PricingModel>(),
  supportedFeatures: jsonb('supported_features').$type<AiFeature[]>(),
  configurationSchema: jsonb('configuration_schema').$type<ConfigurationSchema>(),
  defaultConfiguration: jsonb('default_configuration').$type<ProviderConfiguration>(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const aiProviderConfigs = pgTable(
  'ai_provider_configs',
  {
    id: id(),
    providerId: uuid('provider_id')
      .notNull()
      .references(() => aiProviders.id, { onDelete: 'cascade' }),
    /** NULL for the global configuration. */
    userId: uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
    serviceType: varchar('service_type', { length: 50 }).$type<AiFeature>().notNull(),
    configuration: jsonb('configuration').$type<ProviderConfiguration>().notNull(),
    /** Higher number, higher priority. */
    priority: integer('priority').notNull().default(1),
    isActive: boolean('is_active').notNull().default(true),
    dailyQuota: integer('daily_quota'),
    monthlyQuota: integer('monthly_quota'),
    currentDailyUsage: integer('current_daily_usage').notNull().default(0),
    currentMonthlyUsage: integer('current_monthly_usage').notNull().default(0),
    lastResetDate: date('last_reset_date'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('idx_ai_provider_configs_provider_id').on(t.providerId),
    index('idx_ai_provider_configs_user_id').on(t.userId),
    index('idx_ai_provider_configs_service_type').on(t.serviceType),
  ],
);

export const apiUsageLogs = pgTable(
  'api_usage_logs',
  {
    id: id(),
    userId: ownerUserId(),
    providerId: uuid('provider_id')
      .notNull()
      .references(() => aiProviders.id, { onDelete: 'cascade' }),
    serviceType: varchar('service_type', { length: 50 }).$type<AiFeature>().notNull(),
    endpoint: varchar('endpoint', { length: 255 }),
    requestSizeBytes: integer('request_size_bytes'),
    responseSizeBytes: integer('response_size_bytes'),
    processingTimeMs: integer('processing_time_ms'),
    /** USD */
    cost: numeric('cost', { precision: 10, scale: 6 }),
    statusCode: integer('status_code'),
    errorMessage: text('error_message'),
    requestMetadata: jsonb('request_metadata').$type<Record<string, unknown>>(),
    createdAt: createdAt(),
  },
  (t) => [
    index('idx_api_usage_logs_user_id').on(t.userId),
    index('idx_api_usage_logs_provider_id').on(t.providerId),
    index('idx_api_usage_logs_created_at').on(t.createdAt),
  ],
);
