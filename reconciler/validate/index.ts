// reconciler/validate: the pure validator (objects in, problems out) and problem formatting.
export { validateManifests, MAX_PROBLEMS_PER_OBJECT, type ValidateOptions, type ValidationResult, type ValidObject } from './validate.ts';
export { formatProblem, formatFieldPath, formatObjectRef, compareProblems } from './format.ts';
export { ValidationCode } from './finding.ts';
