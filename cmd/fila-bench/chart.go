package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
)

// The chart's geometry, in SVG pixels.
const (
	chartWidth  = 760.0
	labelRight  = 170.0 // right edge of the case labels
	plotLeft    = 180.0
	plotWidth   = 490.0 // room for the value labels after the longest bar
	headerH     = 78.0  // title, subtitle, legend
	barH        = 11.0
	barGap      = 2.0
	groupGap    = 14.0
	axisH       = 34.0
	chartFont   = "font-family=\"-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\""
	missingNote = "no figure"
)

// series are the bars of each case, in drawing order.
var series = []struct {
	name, color string
	value       func(ratioRow) float64
}{
	{"fila", "#2b6cb0", func(r ratioRow) float64 { return r.Fila }},
	{"BullMQ", "#dd6b20", func(r ratioRow) float64 { return r.BullMQ }},
	{"asynq", "#718096", func(r ratioRow) float64 { return r.Asynq }},
}

// writeChart draws jobs/s per case, fila beside BullMQ and asynq, from one
// run, as a self-contained SVG (horizontal bars, one group per case). The
// sequential add's group carries the round-trip limit as a dashed line,
// drawn first so that the bars and their figures lie over it.
func writeChart(w io.Writer, run *benchRun) error {
	t := buildTable(run)
	var rows []ratioRow
	top := t.RoundTrip
	for _, r := range t.Rows {
		if r.Chart == "" {
			continue
		}
		rows = append(rows, r)
		top = max(top, r.Fila, r.BullMQ, r.Asynq)
	}
	if len(rows) == 0 || top == 0 {
		return fmt.Errorf("the run has no jobs/s figures to draw")
	}
	scaleMax, step := niceScale(top)
	x := func(v float64) float64 { return plotLeft + v/scaleMax*plotWidth }
	groupH := float64(len(series))*(barH+barGap) - barGap
	plotTop := headerH
	plotH := float64(len(rows))*(groupH+groupGap) + groupGap
	height := plotTop + plotH + axisH

	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...); b.WriteByte('\n') }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" %s font-size="12">`,
		chartWidth, height, chartWidth, height, chartFont)
	p(`<rect width="100%%" height="100%%" fill="#ffffff"/>`)
	p(`<text x="10" y="22" font-size="16" font-weight="bold">%s</text>`, esc("Jobs per second on one redis-server (higher is better)"))
	p(`<text x="10" y="40" fill="#4a5568">%s</text>`, esc(subtitle(run, t)))
	lx := plotLeft
	for _, s := range series {
		name := s.name
		switch s.name {
		case "BullMQ":
			name = strings.TrimSpace("BullMQ " + t.BullMQVersion)
		case "asynq":
			name = strings.TrimSpace("asynq " + t.AsynqVersion)
		}
		p(`<rect x="%.1f" y="52" width="12" height="12" fill="%s"/>`, lx, s.color)
		p(`<text x="%.1f" y="62">%s</text>`, lx+17, esc(name))
		lx += 17 + 7.5*float64(len(name)) + 24
	}
	if t.RoundTrip > 0 {
		p(`<line x1="%.1f" y1="58" x2="%.1f" y2="58" stroke="#1a202c" stroke-dasharray="4 3"/>`, lx, lx+16)
		p(`<text x="%.1f" y="62">%s</text>`, lx+21, esc("round-trip limit "+figure(t.RoundTrip, "jobs/s")+"/s"))
	}
	// Grid and axis.
	for v := 0.0; v <= scaleMax+step/2; v += step {
		p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e2e8f0"/>`, x(v), plotTop, x(v), plotTop+plotH)
		p(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#4a5568">%s</text>`, x(v), plotTop+plotH+16, tick(v))
	}
	p(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#4a5568">jobs/s</text>`, plotLeft+plotWidth/2, plotTop+plotH+31)
	y := plotTop + groupGap
	for i, r := range rows {
		p(`<text x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, labelRight, y+groupH/2, esc(r.Chart))
		if i == 0 && t.RoundTrip > 0 {
			lxr := x(t.RoundTrip)
			p(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#1a202c" stroke-dasharray="4 3"/>`, lxr, y-5, lxr, y+groupH+5)
		}
		for j, s := range series {
			by := y + float64(j)*(barH+barGap)
			v := s.value(r)
			if v == 0 {
				p(`<text x="%.1f" y="%.1f" dominant-baseline="middle" font-size="10" fill="#a0aec0">%s</text>`, plotLeft+3, by+barH/2, esc(missingNote+" from "+s.name))
				continue
			}
			p(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s jobs/s</title></rect>`,
				plotLeft, by, x(v)-plotLeft, barH, s.color, esc(s.name+", "+r.Chart), figure(v, "jobs/s"))
			p(`<text x="%.1f" y="%.1f" dominant-baseline="middle" font-size="10" stroke="#ffffff" stroke-width="2" paint-order="stroke">%s</text>`, x(v)+4, by+barH/2, figure(v, "jobs/s"))
		}
		y += groupH + groupGap
	}
	p(`</svg>`)
	_, err := w.Write(b.Bytes())
	return err
}

// subtitle says what was measured, when, on what.
func subtitle(run *benchRun, t ratioTable) string {
	var parts []string
	if len(run.Started) >= 10 {
		parts = append(parts, run.Started[:10])
	}
	if run.Commit != "" {
		parts = append(parts, "fila "+run.Commit)
	}
	if run.RedisVersion != "" {
		parts = append(parts, "Redis "+run.RedisVersion)
	}
	runs := fmt.Sprintf("median of %d runs", run.Runs)
	if run.Runs == 1 {
		runs = "one run"
	}
	parts = append(parts, fmt.Sprintf("%s no-op jobs a case, %s", thousands(int64(run.N)), runs))
	if run.Host != "" {
		parts = append(parts, run.Host)
	}
	return strings.Join(parts, " · ")
}

// niceScale returns an axis maximum at or above top and its tick step: 1, 2
// or 5 times a power of ten, about five ticks.
func niceScale(top float64) (scaleMax, step float64) {
	raw := top / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	return math.Ceil(top/step) * step, step
}

// tick labels an axis value: 20k, 2.5k, 0.
func tick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1000:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v/1000), "0"), ".") + "k"
	}
	return fmt.Sprintf("%.0f", v)
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
