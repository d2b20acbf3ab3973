// string-width, set up on first use. At load it builds an Intl.Segmenter and compiles an RGI_Emoji
// regular expression, ~40 ms together, and yargs imports it (three copies through cliui and wrap-ansi)
// on every start, though only --help and the screens (through src/ui/cell-width.ts) measure text.
// build.mjs points every import of string-width here; the real module (the newest one installed) is required, and so set up, lazily.
// yargs measures its whole help text after every command it starts (help or not): ASCII without escape
// sequences, whose width is its count of printable characters (controls such as newlines take none),
// whatever the options, so the real module is not needed for it.
const ASCII_WITHOUT_ESCAPES = /^[\x00-\x1a\x1c-\x7f]*$/;
const UNPRINTED = /[^\x20-\x7e]/g;
let stringWidth;

export default function lazyStringWidth(text, options) {
  if (typeof text === 'string' && ASCII_WITHOUT_ESCAPES.test(text)) return text.replace(UNPRINTED, '').length;
  stringWidth ??= require('../node_modules/string-width/index.js').default;
  return stringWidth(text, options);
}
