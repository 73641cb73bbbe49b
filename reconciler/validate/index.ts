// reconciler/validate: the pure validator (objects in, problems out) and problem formatting.
export { validateManifests, type ValidateOptions, type ValidationResult, type ValidObject } from './validate.ts';
export { formatProblem, formatFieldPath, formatObjectRef, compareProblems } from './format.ts';
export { ValidationCode } from './finding.ts';
