// Terminal styling: colour only on a TTY, never with NO_COLOR, always with FORCE_COLOR.
export interface Style {
  red(s: string): string;
  yellow(s: string): string;
  blue(s: string): string;
  green(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export function makeStyle(stream: NodeJS.WriteStream = process.stdout): Style {
  const env = process.env;
  const on = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0" ? true : env.NO_COLOR === undefined && stream.isTTY === true && env.TERM !== "dumb";
  const wrap = (open: number, close: number) => (s: string) => (on ? `\u001b[${open}m${s}\u001b[${close}m` : s);
  return { red: wrap(31, 39), yellow: wrap(33, 39), blue: wrap(34, 39), green: wrap(32, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
}

export const plain: Style = { red: (s) => s, yellow: (s) => s, blue: (s) => s, green: (s) => s, dim: (s) => s, bold: (s) => s };
