const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether `id` is a UUID written as 8-4-4-4-12 hex digits (either case), as every linpath id is. Anything else
 * names no row: the use cases answer NOT_FOUND without asking the database, which would refuse the text for a
 * uuid column (SQLSTATE 22P02) instead.
 */
export const isUuid = (id: string): boolean => UUID.test(id);
