'use strict';
/**
 * Development entry of the decode worker, used only when the decryptor runs from its TypeScript sources
 * (jest) and the compiled dist/apps/decryptor/src/decode/decode.worker.js is therefore absent. Worker
 * threads do not inherit jest's transform, so this compiles .ts files on require with @swc/core (a dev
 * dependency, the same compiler jest uses) and maps the @hes/* aliases to libs/<name>/src as
 * jest.config.js does. Production runs `npm run build` output and never loads this file.
 */
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { transformSync } = require('@swc/core');

const repoRoot = path.resolve(__dirname, '../../../..');
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function resolveHesAlias(request, ...rest) {
  const alias = /^@hes\/([a-z]+)$/.exec(request);
  const target = alias ? path.join(repoRoot, 'libs', alias[1], 'src') : request;
  return resolveFilename.call(this, target, ...rest);
};

Module._extensions['.ts'] = function compileTypeScript(module, filename) {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    sourceMaps: 'inline',
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};

module.exports = require('./decode.worker.ts');
