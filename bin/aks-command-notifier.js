#!/usr/bin/env node
// Runs the bundled CLI when built (npm run build), the TypeScript sources otherwise.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const bundle = join(__dirname, '..', 'dist', 'cli.js');
if (existsSync(bundle)) {
  require(bundle).main();
} else {
  require('tsx/cjs');
  require(join(__dirname, '..', 'src', 'cli', 'main.ts')).main();
}
