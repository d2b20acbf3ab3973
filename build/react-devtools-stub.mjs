// Ink imports react-devtools-core only when DEV is set; the real package is not bundled, so stand in for it.
export default { initialize() {}, connectToDevTools() {} };
