import { relations } from 'drizzle-orm';
import { audioProcessingResults, audioRecordings } from './audio';
import { conversations, conversationSessions } from './conversations';
import { documents, documentVersions } from './documents';
import { pronunciationFeedback, userProgress } from './feedback';
import { aiProviderConfigs, aiProviders, apiUsageLogs } from './providers';
import { users, userSessions } from './users';

// Two foreign keys point from one table to users; relationName pairs each side with its key.
const VERSION_AUTHOR = 'versionAuthor';
const FEEDBACK_LEARNER = 'feedbackLearner';
const FEEDBACK_REVIEWER = 'feedbackReviewer';

export const usersRelations = relations(users, ({ many }) => ({
  sessions: many(userSessions),
  documents: many(documents),
  authoredDocumentVersions: many(documentVersions, { relationName: VERSION_AUTHOR }),
  conversations: many(conversations),
  conversationSessions: many(conversationSessions),
  audioRecordings: many(audioRecordings),
  feedback: many(pronunciationFeedback, { relationName: FEEDBACK_LEARNER }),
  reviewedFeedback: many(pronunciationFeedback, { relationName: FEEDBACK_REVIEWER }),
  progress: many(userProgress),
  providerConfigs: many(aiProviderConfigs),
  apiUsageLogs: many(apiUsageLogs),
}));

export const userSessionsRelations = relations(userSessions, ({ one }) => ({
  user: one(users, { fields: [userSessions.userId], references: [users.id] }),
}));

export const documentsRelations = relations(documents, ({ one, many }) => ({
  owner: one(users, { fields: [documents.userId], references: [users.id] }),
  versions: many(documentVersions),
  conversations: many(conversations),
}));

export const documentVersionsRelations = relations(documentVersions, ({ one }) => ({
  document: one(documents, { fields: [documentVersions.documentId], references: [documents.id] }),
  author: one(users, {
    fields: [documentVersions.createdBy],
    references: [users.id],
    relationName: VERSION_AUTHOR,
  }),
}));

export const conversationsRelations = relations(conversations, ({ one, many }) => ({
  user: one(users, { fields: [conversations.userId], references: [users.id] }),
  document: one(documents, { fields: [conversations.documentId], references: [documents.id] }),
  sessions: many(conversationSessions),
  audioRecordings: many(audioRecordings),
}));

export const conversationSessionsRelations = relations(conversationSessions, ({ one, many }) => ({
  conversation: one(conversations, {
    fields: [conversationSessions.conversationId],
    references: [conversations.id],
  }),
  user: one(users, { fields: [conversationSessions.userId], references: [users.id] }),
  audioRecordings: many(audioRecordings),
}));

export const audioRecordingsRelations = relations(audioRecordings, ({ one, many }) => ({
  user: one(users, { fields: [audioRecordings.userId], references: [users.id] }),
  session: one(conversationSessions, {
    fields: [audioRecordings.conversationSessionId],
    references: [conversationSessions.id],
  }),
  conversation: one(conversations, {
    fields: [audioRecordings.conversationId],
    references: [conversations.id],
  }),
  processingResults: many(audioProcessingResults),
  feedback: many(pronunciationFeedback),
}));

export const audioProcessingResultsRelations = relations(audioProcessingResults, ({ one }) => ({
  recording: one(audioRecordings, {
    fields: [audioProcessingResults.audioRecordingId],
    references: [audioRecordings.id],
  }),
}));

export const pronunciationFeedbackRelations = relations(pronunciationFeedback, ({ one }) => ({
  recording: one(audioRecordings, {
    fields: [pronunciationFeedback.audioRecordingId],
    references: [audioRecordings.id],
  }),
  user: one(users, {
    fields: [pronunciationFeedback.userId],
    references: [users.id],
    relationName: FEEDBACK_LEARNER,
  }),
  reviewer: one(users, {
    fields: [pronunciationFeedback.reviewedBy],
    references: [users.id],
    relationName: FEEDBACK_REVIEWER,
  }),
}));

export const userProgressRelations = relations(userProgress, ({ one }) => ({
  user: one(users, { fields: [userProgress.userId], references: [users.id] }),
}));

export const aiProvidersRelations = relations(aiProviders, ({ many }) => ({
  configs: many(aiProviderConfigs),
  usageLogs: many(apiUsageLogs),
}));

export const aiProviderConfigsRelations = relations(aiProviderConfigs, ({ one }) => ({
  provider: one(aiProviders, { fields: [aiProviderConfigs.providerId], references: [aiProviders.id] }),
  user: one(users, { fields: [aiProviderConfigs.userId], references: [users.id] }),
}));

export const apiUsageLogsRelations = relations(apiUsageLogs, ({ one }) => ({
  user: one(users, { fields: [apiUsageLogs.userId], references: [users.id] }),
  provider: one(aiProviders, { fields: [apiUsageLogs.providerId], references: [aiProviders.id] }),
}));
