// Writes crds/generated/validators.cjs: ajv's standalone code for the built-in schemas, so no
// process compiles them at run time, and crds/generated/meta-schema.cjs (draft-07, for CRD
// schemas). Run after editing crds/*.schema.json; a unit test fails when a file does not match.
import { writeFileSync } from 'node:fs';
import { GENERATED_META_SCHEMA, GENERATED_VALIDATORS, generateMetaSchemaSource, generateValidatorsSource } from '../crds/index.ts';

writeFileSync(GENERATED_VALIDATORS, generateValidatorsSource());
writeFileSync(GENERATED_META_SCHEMA, generateMetaSchemaSource());
console.log(`wrote ${GENERATED_VALIDATORS.pathname} and ${GENERATED_META_SCHEMA.pathname}`);
