/** Open connections (or sockets) counted per client and in all, each under its own cap. */
export class ConnectionCounter {
  private readonly perClient = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly maxPerClient: number,
    private readonly maxTotal: number = Number.POSITIVE_INFINITY,
  ) {}

  /** Counts a new connection of `client`; says which cap refuses it instead, counting nothing. */
  open(client: string): 'ok' | 'client' | 'total' {
    const count = this.perClient.get(client) ?? 0;
    if (count >= this.maxPerClient) return 'client';
    if (this.total >= this.maxTotal) return 'total';
    this.perClient.set(client, count + 1);
    this.total += 1;
    return 'ok';
  }

  close(client: string): void {
    const count = this.perClient.get(client) ?? 0;
    if (count <= 1) this.perClient.delete(client);
    else this.perClient.set(client, count - 1);
    this.total = Math.max(0, this.total - 1);
  }
}
