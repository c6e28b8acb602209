// check.mjs: drive headless Debian chromium over a filrec report folder, for
// tests/e2e/test_reports_browser.py. It only acts and measures; the test holds the
// known answers. Usage:
//   node check.mjs REPORT_DIR OUT_DIR CLICK_LABEL SEARCH_TERM
// Opens REPORT_DIR/index.html, then peak.svg and peak-reversed.svg from disk. In each
// SVG: clicks the frame labelled CLICK_LABEL (data-l; the widest frame below the root
// when it is not there), measures the zoom, clicks reset, types SEARCH_TERM into the
// search box, measures the highlight and the matched text, then reloads with the URL
// the page wrote (zoom and search kept there). Screenshots go to OUT_DIR. Prints one
// JSON object; exits 1 only when the browser itself cannot be driven.
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const [reportDir, outDir, clickLabel, searchTerm] = process.argv.slice(2);
if (!searchTerm) {
    console.error('usage: node check.mjs REPORT_DIR OUT_DIR CLICK_LABEL SEARCH_TERM');
    process.exit(2);
}

// What every page did that it must not: alert/confirm/prompt dialogs, console errors,
// uncaught exceptions, failed loads.
const dialogs = [], errors = [];

function watch(page, name) {
    page.on('dialog', d => { dialogs.push(`${name}: ${d.type()}: ${d.message()}`); d.dismiss(); });
    page.on('console', m => { if (m.type() === 'error') errors.push(`${name}: console: ${m.text()}`); });
    page.on('pageerror', e => errors.push(`${name}: exception: ${e.message}`));
    page.on('requestfailed', r => errors.push(`${name}: failed to load ${r.url()}`));
}

// The frames of an SVG page, as the test wants to see them.
const frames = page => page.evaluate(() => [...document.querySelectorAll('g.f')].map(g => {
    const r = g.querySelector('rect');
    return {
        id: g.id, label: g.getAttribute('data-l'), depth: +g.getAttribute('data-d'),
        bytes: +g.getAttribute('data-b'), shown: getComputedStyle(g).display !== 'none',
        x: +r.getAttribute('x'), width: +r.getAttribute('width'),
        fx: +g.getAttribute('data-x'), fw: +g.getAttribute('data-w'),
        fill: r.style.fill, hit: g.classList.contains('hit'),
    };
}));

const texts = page => page.evaluate(() => ({
    title: document.getElementById('title').textContent,
    matched: document.getElementById('matched').textContent,
    dataMatched: document.getElementById('matched').getAttribute('data-matched'),
    resetShown: getComputedStyle(document.getElementById('reset')).display !== 'none',
    search: location.search,
}));

async function svgPage(browser, file, name) {
    const page = await browser.newPage({ viewport: { width: 1240, height: 900 } });
    watch(page, name);
    const url = pathToFileURL(file).href;
    await page.goto(url);
    const out = { url, before: await frames(page) };
    const byLabel = out.before.find(f => f.label === clickLabel && f.depth > 0);
    const target = byLabel || out.before.filter(f => f.depth > 0).sort((a, b) => b.bytes - a.bytes)[0];
    out.clicked = target.id;
    await page.click(`#${target.id} rect`);
    out.zoomed = await frames(page);
    out.zoomedTexts = await texts(page);
    await page.screenshot({ path: path.join(outDir, `${name}-zoomed.png`) });
    await page.click('#reset');
    out.reset = await frames(page);
    out.resetTexts = await texts(page);
    await page.fill('#term', '');
    await page.type('#term', searchTerm);
    out.searched = await frames(page);
    out.searchTexts = await texts(page);
    await page.screenshot({ path: path.join(outDir, `${name}-search.png`) });
    // zoom again, then reload from the URL the page wrote: both must come back
    await page.click(`#${target.id} rect`);
    const state = await texts(page);
    await page.goto(url + state.search);
    out.reloadTexts = await texts(page);
    out.reloaded = await frames(page);
    out.term = await page.evaluate(() => {
        const t = document.getElementById('term');
        return t.value === undefined ? `<${t.namespaceURI} ${t.localName}>` : t.value;
    });
    await page.close();
    return out;
}

async function main() {
    const browser = await chromium.launch({
        executablePath: process.env.FILREC_CHROMIUM || '/usr/bin/chromium',
        args: ['--no-sandbox', '--disable-gpu'],
    });
    const result = { dialogs, errors };
    try {
        const page = await browser.newPage({ viewport: { width: 1300, height: 1000 } });
        watch(page, 'index.html');
        await page.goto(pathToFileURL(path.join(reportDir, 'index.html')).href);
        result.index = await page.evaluate(() => ({
            peak: document.getElementById('peak').getAttribute('data-bytes'),
            title: document.title,
            scripts: document.querySelectorAll('script').length,
            objects: document.querySelectorAll('object').length,
        }));
        // the <object> holds peak.svg: its frames are drawn there
        const svgFrame = page.frames().find(f => f.url().endsWith('/peak.svg'));
        if (svgFrame) {
            await svgFrame.waitForSelector('g.f');
            result.index.embeddedFrames = await svgFrame.evaluate(() =>
                document.querySelectorAll('g.f').length);
        }
        await page.screenshot({ path: path.join(outDir, 'index.png'), fullPage: true });
        await page.close();
        result.peak = await svgPage(browser, path.join(reportDir, 'peak.svg'), 'peak');
        result.reversed = await svgPage(browser, path.join(reportDir, 'peak-reversed.svg'),
                                        'peak-reversed');
    } finally {
        await browser.close();
    }
    console.log(JSON.stringify(result));
}

main().catch(e => { console.error(e.stack || String(e)); process.exit(1); });
