// Writes crds/generated/validators.cjs: ajv's standalone code for the built-in schemas, so no
// process compiles them at run time. Run after editing crds/*.schema.json; a unit test fails when
// the file does not match the schemas.
import { writeFileSync } from 'node:fs';
import { GENERATED_VALIDATORS, generateValidatorsSource } from '../crds/index.ts';

writeFileSync(GENERATED_VALIDATORS, generateValidatorsSource());
console.log(`wrote ${GENERATED_VALIDATORS.pathname}`);
