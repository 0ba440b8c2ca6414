/** Renders a `Figure` as a standalone SVG document (UTF-8 text). */
import type { Figure, Primitive } from './figure';

export function figureToSvg(figure: Figure): string {
  const body = figure.primitives.map(primitiveToSvg).join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${figure.width}" height="${figure.height}" viewBox="0 0 ${figure.width} ${figure.height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">`,
    `<title>${escapeXml(figure.title)}</title>`,
    `<rect x="0" y="0" width="${figure.width}" height="${figure.height}" fill="${figure.background}"/>`,
    body,
    '</svg>',
    '',
  ].join('\n');
}

function primitiveToSvg(p: Primitive): string {
  switch (p.kind) {
    case 'polyline': {
      const dash = p.dash ? ` stroke-dasharray="${p.dash[0]} ${p.dash[1]}"` : '';
      const opacity = p.opacity !== undefined ? ` stroke-opacity="${p.opacity}"` : '';
      return `<polyline points="${points(p.points)}" fill="none" stroke="${p.stroke}" stroke-width="${p.width}"${dash}${opacity}/>`;
    }
    case 'polygon':
      return `<polygon points="${points(p.points)}" fill="${p.fill}" fill-opacity="${p.opacity ?? 1}" stroke="none"/>`;
    case 'rect': {
      const fill = p.fill ?? 'none';
      const stroke = p.stroke ? ` stroke="${p.stroke}" stroke-width="${p.strokeWidth ?? 1}"` : '';
      const opacity = p.opacity !== undefined ? ` fill-opacity="${p.opacity}"` : '';
      return `<rect x="${n(p.x)}" y="${n(p.y)}" width="${n(p.width)}" height="${n(p.height)}" fill="${fill}"${opacity}${stroke}/>`;
    }
    case 'text': {
      const anchor = p.anchor ?? 'start';
      const weight = p.bold ? ' font-weight="bold"' : '';
      return `<text x="${n(p.x)}" y="${n(p.y)}" font-size="${p.size}" fill="${p.fill}" text-anchor="${anchor}"${weight}>${escapeXml(p.text)}</text>`;
    }
  }
}

function points(list: readonly (readonly [number, number])[]): string {
  return list.map(([x, y]) => `${n(x)},${n(y)}`).join(' ');
}

function n(v: number): string {
  return String(Math.round(v * 100) / 100);
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
