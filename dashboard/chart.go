package dashboard

import (
	"fmt"
	"html"
	"html/template"
	"strings"
)

// Chart geometry, in SVG user units; the SVG scales to its container.
const (
	chartW, chartH = 600, 160
	padL, padR     = 40, 8
	padT, padB     = 8, 22
)

// chartSVG draws completed and failed jobs per minute, oldest on the left,
// as an accessible inline SVG; id (letters, digits, '-') names its title. completed and failed are newest first, as
// fila.QueueMetrics keeps them. Only numbers and the escaped queue name
// reach the markup.
func chartSVG(id, queue string, completed, failed []int64) template.HTML {
	n := chartMinutes
	peak := int64(1)
	var sumC, sumF int64
	for i := 0; i < n; i++ {
		c, f := at(completed, i), at(failed, i)
		peak = max(peak, c, f)
		sumC += c
		sumF += f
	}
	plotW, plotH := float64(chartW-padL-padR), float64(chartH-padT-padB)
	x := func(i int) float64 { // i minutes ago
		return float64(padL) + plotW*float64(n-1-i)/float64(n-1)
	}
	y := func(v int64) float64 { return float64(padT) + plotH*(1-float64(v)/float64(peak)) }
	line := func(vals []int64) string {
		var b strings.Builder
		for i := n - 1; i >= 0; i-- {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(i), y(at(vals, i)))
		}
		return strings.TrimSpace(b.String())
	}
	name := html.EscapeString(queue)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%[3]s-t %[3]s-d">`, chartW, chartH, id)
	fmt.Fprintf(&b, `<title id="%s-t">Throughput of %s, last hour</title>`, id, name)
	fmt.Fprintf(&b, `<desc id="%s-d">%d completed and %d failed in the last %d minutes; peak %d per minute.</desc>`, id, sumC, sumF, n, peak)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padL, chartH-padB, chartW-padR, chartH-padB)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, padL, padT, padL, chartH-padB)
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">%d</text>`, padL-4, padT+10, peak)
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">0</text>`, padL-4, chartH-padB)
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d">-60 min</text>`, padL, chartH-6)
	fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">now</text>`, chartW-padR, chartH-6)
	fmt.Fprintf(&b, `<polyline class="completed" points="%s"/>`, line(completed))
	fmt.Fprintf(&b, `<polyline class="failed" points="%s"/>`, line(failed))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// at returns vals[i], or 0 past its end.
func at(vals []int64, i int) int64 {
	if i < len(vals) {
		return vals[i]
	}
	return 0
}
