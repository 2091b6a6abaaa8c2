import { escapeHtml as esc } from './format.js';

/** The style of every bitlens report page. */
const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d232b; margin: 0 auto; max-width: 1180px; padding: 24px 28px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid #d0d5dc; padding-bottom: 4px; }
p.subtitle { color: #4a5563; margin: 0 0 16px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { border: 1px solid #d0d5dc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f8; } td.num { text-align: right; font-variant-numeric: tabular-nums; } td.checks { font-size: 12px; max-width: 260px; }
tr.verdict-same td.verdict { background: #e3f4e6; font-weight: 600; }
tr.verdict-different td.verdict { background: #fbe4e4; font-weight: 600; }
tr.verdict-inconclusive td.verdict { background: #fdf3d7; font-weight: 600; }
.fail { color: #b42318; font-weight: 600; }
figure.plot { margin: 16px 0; } figure.plot svg { max-width: 100%; height: auto; }
div.model-views { display: flex; flex-wrap: wrap; gap: 12px 28px; align-items: flex-start; }
div.model-name { font-weight: 600; font-size: 13px; margin: 4px 0 2px; }
figcaption { font-size: 13px; color: #4a5563; margin-bottom: 4px; }
p.note { color: #4a5563; font-size: 13px; }
pre { background: #f3f5f8; padding: 8px; overflow-x: auto; font-size: 12px; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; } dt { font-weight: 600; } dd { margin: 0; font-family: ui-monospace, monospace; font-size: 12px; }
`;

/**
 * A self-contained HTML page: inline style, no scripts, no external resources (a Content-Security-Policy of
 * `default-src 'none'` is set, so the page cannot fetch anything).
 */
export function page(title: string, subtitle: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>${esc(title)}</h1><p class="subtitle">${esc(subtitle)}</p></header>
${body}
</body>
</html>
`;
}
