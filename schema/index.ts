// The whole schema, for drizzle-kit and for `drizzle(client, { schema })`.
export * from './users';
export * from './documents';
export * from './conversations';
export * from './audio';
export * from './feedback';
export * from './providers';
export * from './system';
export * from './relations';
export * from './document-search';
