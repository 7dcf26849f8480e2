// HEALTHCHECK for the Node images (no curl in the image): exits 0 when the URL answers 2xx within 4 s.
const url = process.argv[2] ?? 'http://127.0.0.1:8080/healthz';
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (!res.ok) {
    console.error(`${url}: HTTP ${res.status}`);
    process.exit(1);
  }
} catch (e) {
  console.error(`${url}: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
}
