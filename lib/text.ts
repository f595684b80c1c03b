/** "1 statement", "2 statements": a count with its noun, for messages. */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
