// Validate an AsyncAPI 3.0 document against the official JSON Schema of @asyncapi/specs.
// Usage: node tests/asyncapi_validate.mjs <dir holding node_modules> <document.json>
// The packages (@asyncapi/specs, ajv, ajv-formats) are installed at test time, never committed.
// Exit 0 when valid, 1 with the errors as JSON on stdout, 2 on a usage or setup problem.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const [prefix, documentPath] = process.argv.slice(2);
if (!prefix || !documentPath) {
  console.error("usage: asyncapi_validate.mjs <prefix> <document.json>");
  process.exit(2);
}
const require = createRequire(join(resolve(prefix), "node_modules", "noop.js"));
const Ajv = require("ajv");
const addFormats = require("ajv-formats");
const specs = require("@asyncapi/specs");
const specsVersion = require("@asyncapi/specs/package.json").version;

const document = JSON.parse(readFileSync(documentPath, "utf8"));
const official = specs.schemas[document.asyncapi];
if (!official) {
  console.error(`@asyncapi/specs ${specsVersion} has no schema for asyncapi ${document.asyncapi}`);
  process.exit(2);
}
// As @asyncapi/parser does: drop the bundled JSON Schema meta-schemas (Ajv has draft-07 built in
// and refuses a second copy), and use its options: AsyncAPI's own keywords tolerated, regexes
// written for non-unicode mode.
const schema = structuredClone(official);
delete schema.definitions["http://json-schema.org/draft-07/schema"];
delete schema.definitions["http://json-schema.org/draft-04/schema"];
const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true, unicodeRegExp: false });
addFormats(ajv);
const validate = ajv.compile(schema);
if (validate(document)) {
  console.log(JSON.stringify({ valid: true, specs: specsVersion, asyncapi: document.asyncapi }));
  process.exit(0);
}
console.log(JSON.stringify({ valid: false, specs: specsVersion, errors: validate.errors }, null, 2));
process.exit(1);
