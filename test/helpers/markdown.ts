/**
 * Just enough Markdown for checking the repository's own docs: links and the anchors GitHub gives headings.
 * It follows CommonMark where the docs need it (fenced code, code spans, inline links and images, ATX headings)
 * and ignores the rest (reference links, setext headings, indented code), which the docs do not use.
 */

export interface MarkdownLink {
  /** The destination as written, without angle brackets or title, e.g. `docs/paths.md#memoization`. */
  readonly target: string;
  /** 1-based line of the link in its file. */
  readonly line: number;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/** The text with every fenced code block blanked out, line for line, so that line numbers stay right. */
function withoutFences(text: string): string[] {
  let open: string | undefined;
  return text.split('\n').map((line) => {
    const fence = FENCE.exec(line)?.[1];
    if (open === undefined) {
      if (fence === undefined) return line;
      open = fence;
      return '';
    }
    if (fence !== undefined && fence[0] === open[0] && fence.length >= open.length && line.trim() === fence) {
      open = undefined;
    }
    return '';
  });
}

/** Code spans (which may run over several lines) replaced by spaces, newlines kept. */
const withoutCodeSpans = (text: string) =>
  text.replace(/(`+)(?!`)[\s\S]*?[^`]\1(?!`)/g, (span) => span.replace(/[^\n]/g, ' '));

const LINK = /!?\[((?:[^[\]]|\[[^[\]]*\])*)\]\(\s*(<[^>\n]*>|[^\s)]*)(?:\s+"[^"]*")?\s*\)/g;

/** Every inline link and image outside code, in order. */
export function markdownLinks(text: string): MarkdownLink[] {
  const prose = withoutCodeSpans(withoutFences(text).join('\n'));
  return [...prose.matchAll(LINK)].map((match) => ({
    target: match[2]!.replace(/^<(.*)>$/, '$1'),
    line: prose.slice(0, match.index).split('\n').length,
  }));
}

/**
 * The anchor GitHub gives a heading (github-slugger): lower case, every character that is not a letter, mark,
 * digit, connector (`_`), hyphen or space removed, each space a hyphen. Repeats are numbered by headingAnchors.
 */
export const githubSlug = (heading: string): string =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');

/** The heading's text as rendered: links and images by their text, code spans and emphasis marks dropped. */
const headingText = (source: string) =>
  source
    .replace(/!?\[((?:[^[\]]|\[[^[\]]*\])*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .replace(/\*/g, '')
    .trim();

/** Anchors of a Markdown file: its headings' slugs (the second `x` becomes `x-1`, …) and explicit HTML ids. */
export function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(text)) {
    const heading = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (heading !== null) {
      const slug = githubSlug(headingText(heading[1]!));
      const count = seen.get(slug) ?? 0;
      seen.set(slug, count + 1);
      anchors.add(count === 0 ? slug : `${slug}-${count}`);
    }
    for (const html of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(html[1]!);
  }
  return anchors;
}
