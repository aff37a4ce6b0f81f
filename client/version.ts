/** The package's version (client/package.json's; test/e2e/client-package.test.ts checks they agree). */
export const version = "0.1.0";
