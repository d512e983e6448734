// Where the SDK gets its token: a fixed string, or a function the app implements (its
// own login) that is asked again when walcast says the token has expired.

export type TokenProvider = string | (() => string | Promise<string>);

export class TokenSource {
  #token: Promise<string> | undefined;

  constructor(private readonly provider: TokenProvider) {}

  current(): Promise<string> {
    this.#token ??= this.fetch();
    return this.#token;
  }

  /** A new token from the app; with a fixed string, the same one (it is then final). */
  refresh(): Promise<string> {
    this.#token = this.fetch();
    return this.#token;
  }

  get refreshable(): boolean {
    return typeof this.provider === 'function';
  }

  private async fetch(): Promise<string> {
    const token = typeof this.provider === 'function' ? await this.provider() : this.provider;
    if (typeof token !== 'string' || token === '') throw new TypeError('walcast: the token provider returned no token');
    return token;
  }
}
