// Preloaded into the registry-core server by soak.mjs (`node --require`): writes the
// process's memoryUsage() as JSON to $SOAK_HEAP_FILE every second (to a temp file, then
// renamed, so a reader never sees half of one). Nothing else; the timer never keeps the
// process alive.
const { renameSync, writeFileSync } = require('node:fs');

const file = process.env.SOAK_HEAP_FILE;
if (file) {
  setInterval(() => {
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify({ at: Date.now(), ...process.memoryUsage() }));
      renameSync(`${file}.tmp`, file);
    } catch {
      // the folder is gone: the soak is over
    }
  }, 1000).unref();
}
