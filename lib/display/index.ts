/**
 * Self-rendering results for notebooks: MIME bundles, chart builders (plotly JSON + offline SVG),
 * tables, coloured tokens, live-updating outputs and the kernel's interrupt signal.
 */
export type { MimeBundle, Renderable, RenderParts } from "./mime";
export { DISPLAY, PLOTLY_MIME, bundleOf, isMimeBundle, isRenderable, renderable, toBundle } from "./mime";
export type { Annotation, Axis, BarTrace, ColorStop, HeatmapTrace, Layout, PlotlyFigure, ScatterTrace, Shape, Trace } from "./plotly";
export { COLOR_SCALES, PALETTE, colorAt, describeFigure, formatNumber, isPlotlyFigure, paletteColor, textColorOn } from "./plotly";
export type { BarChartSpec, BarSeries, Chart, HeatmapSpec, LineChartSpec, LineSeries, RefLine } from "./charts";
export { barChart, heatmap, lineChart, scatterChart, stackedBarH } from "./charts";
export type { Cell, TableSpec, TableView, TokenColorsSpec, TokenColorsView } from "./views";
export { table, tableHtml, tableText, tokenColors, tokenColorsHtml, tokenColorsText } from "./views";
export { escapeXml, figureToHtml, figureToSvg, niceTicks } from "./svg";
export type { HtmlPart, TextPart } from "./record";
export { ResultRecord, htmlOf, textOf } from "./record";
export type { LiveDisplayOptions } from "./live";
export { LiveDisplay, show } from "./live";
export type { KernelBridge } from "./kernel-bridge";
export { kernelBridge, setKernelBridge } from "./kernel-bridge";
export { abortKernelSignal, interruptError, kernelAbortSignal, resetKernelAbortSignal } from "./kernel-signal";
