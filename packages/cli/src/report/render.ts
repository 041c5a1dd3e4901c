/**
 * SVG to PNG with resvg, using the DejaVu Sans font shipped by the dejavu-fonts-ttf package, so that
 * text renders the same on a machine without any system font. (resvg and the font are loaded on the
 * first call, so that importing the CLI does not need them.)
 */
import { createRequire } from 'node:module';

export const FONT_FAMILY = 'DejaVu Sans';

let fontFiles: string[] | null = null;
function fonts(): string[] {
  if (fontFiles === null) {
    const require = createRequire(import.meta.url);
    fontFiles = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) => require.resolve(`dejavu-fonts-ttf/ttf/${f}`));
  }
  return fontFiles;
}

/** Rasterises an SVG document at `scale` × its size, on white. */
export async function svgToPng(svg: string, scale = 2): Promise<Uint8Array> {
  const { Resvg } = await import('@resvg/resvg-js');
  const r = new Resvg(svg, {
    font: { loadSystemFonts: false, fontFiles: fonts(), defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY },
    background: 'white',
    fitTo: { mode: 'zoom', value: scale },
  });
  return r.render().asPng();
}
