// Headless Chromium for the console's browser tests: Debian's `chromium` (/usr/bin/chromium, which
// .ci/run installs) driven by playwright-core, never a browser downloaded by a test tool. The flags
// keep it off the network this machine does not have (background networking, updates, sync).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium), as .ci/run does`);
  // playwright-core gives each launch a fresh, empty profile (its own --user-data-dir).
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-default-apps'],
  });
}

const CHECKS = readFileSync(join(import.meta.dirname, 'page-checks.js'), 'utf8');

/** Form controls without a label on the page (page-checks.js). */
export function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate(`(${CHECKS}).unlabelled()`) as Promise<string[]>;
}

/** Text below WCAG AA contrast (4.5:1) on the page (page-checks.js). */
export function lowContrast(page: Page): Promise<string[]> {
  return page.evaluate(`(${CHECKS}).lowContrast()`) as Promise<string[]>;
}
