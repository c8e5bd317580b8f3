import { rename, writeFile } from "node:fs/promises";

/**
 * Holds a lab's state and writes it atomically (tmp + rename) after every change; writes are serialized,
 * so the file on disk is always one complete state, never a torn one. Teardown after a crash reads it.
 */
export class StateStore<S extends object> {
  readonly file: string;
  readonly state: S;
  #chain: Promise<void> = Promise.resolve();
  #persist: boolean;

  constructor(file: string, state: S, persist: boolean) {
    this.file = file;
    this.state = state;
    this.#persist = persist;
  }

  /** Starts writing to disk (the lab directory exists from now on). */
  async enablePersistence(): Promise<void> {
    this.#persist = true;
    await this.update(() => undefined);
  }

  /** Applies fn to the state and waits until the result is on disk. */
  update(fn: (s: S) => void): Promise<void> {
    fn(this.state);
    const json = `${JSON.stringify(this.state, null, 2)}\n`;
    const write = async (): Promise<void> => {
      if (!this.#persist) return;
      const tmp = `${this.file}.tmp`;
      await writeFile(tmp, json);
      await rename(tmp, this.file);
    };
    this.#chain = this.#chain.then(write, write);
    return this.#chain;
  }
}
