// Fonts are bundled as Data modules (wrangler.jsonc "rules"): their bytes, for the PDF reports.
declare module "*.ttf" {
  const bytes: ArrayBuffer;
  export default bytes;
}
