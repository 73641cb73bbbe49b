// CustomResourceDefinitions committed in the repository define user kinds: this compiles their
// schemas and checks the definitions themselves (name, reserved kinds and group, versions).
import type { ValidateFunction } from 'ajv';
import { API_VERSION, BUILTIN_KINDS } from '../../api/index.ts';
import { createUserSchemaCompiler } from '../../crds/index.ts';
import { errorMessage } from '../../lib/index.ts';
import { ValidationCode, arrayAt, isRecord, recordAt, stringAt, type Report } from './finding.ts';
import { quote } from './format.ts';

/** UserKind is a kind defined by a CRD: its group, its served versions and their compiled schemas. */
export interface UserKind {
  kind: string;
  group: string;
  crdName: string;
  /** versions maps a served version name to its schema validator (undefined when the schema did not compile). */
  versions: Map<string, ValidateFunction | undefined>;
  /** definedAt says where the CRD is, for "already defined" messages. */
  definedAt: string;
}

/** CRDInput is one CustomResourceDefinition object, where it is, and how to report on it. */
export interface CRDInput {
  object: Record<string, unknown>;
  where: string;
  report: Report;
}

/**
 * buildUserKinds checks each CRD and returns the kinds they define. A CRD that fails its checks
 * still defines its kind when the kind is usable, so its objects are not all reported as unknown.
 */
export function buildUserKinds(crds: readonly CRDInput[]): Map<string, UserKind> {
  const ajv = createUserSchemaCompiler();
  const kinds = new Map<string, UserKind>();
  for (const { object, where, report } of crds) {
    const spec = recordAt(object, 'spec');
    const names = recordAt(spec, 'names');
    const kind = stringAt(names, 'kind');
    const plural = stringAt(names, 'plural');
    const group = stringAt(spec, 'group');
    const name = stringAt(recordAt(object, 'metadata'), 'name');
    if (plural !== undefined && name !== undefined && name !== plural) {
      report(['metadata', 'name'], ValidationCode.crd, `must equal spec.names.plural ${quote(plural)} (got ${quote(name)})`);
    }
    if (group !== undefined && (group === 'gitcell.io' || group.endsWith('.gitcell.io'))) {
      report(['spec', 'group'], ValidationCode.crd, `group ${quote(group)} is reserved for gitcell's own kinds`);
    }
    if (kind === undefined || group === undefined) continue;
    if ((BUILTIN_KINDS as readonly string[]).includes(kind)) {
      report(['spec', 'names', 'kind'], ValidationCode.crd, `${quote(kind)} is a built-in kind (${API_VERSION}) and cannot be redefined`);
      continue;
    }
    const existing = kinds.get(kind);
    if (existing) {
      report(['spec', 'names', 'kind'], ValidationCode.crd, `kind ${quote(kind)} is already defined by CustomResourceDefinition/${existing.crdName} at ${existing.definedAt}`);
      continue;
    }
    const versions = new Map<string, ValidateFunction | undefined>();
    let storage = 0;
    arrayAt(spec, 'versions').forEach((v, i) => {
      if (!isRecord(v)) return;
      const vname = stringAt(v, 'name');
      if (vname === undefined) return;
      if (v.storage === true) storage++;
      const duplicate = [...versions.keys()].includes(vname);
      if (duplicate) {
        report(['spec', 'versions', i, 'name'], ValidationCode.crd, `version ${quote(vname)} is listed twice`);
        return;
      }
      const schema = recordAt(recordAt(v, 'schema'), 'openAPIV3Schema');
      let validate: ValidateFunction | undefined;
      if (schema) {
        try {
          validate = ajv.compile(schema);
        } catch (err) {
          report(['spec', 'versions', i, 'schema', 'openAPIV3Schema'], ValidationCode.crd, `schema does not compile: ${errorMessage(err)}`);
        }
      }
      if (v.served !== false) versions.set(vname, validate);
    });
    if (storage > 1) report(['spec', 'versions'], ValidationCode.crd, 'at most one version may have storage: true');
    kinds.set(kind, { kind, group, crdName: name ?? plural ?? kind, versions, definedAt: where });
  }
  return kinds;
}
