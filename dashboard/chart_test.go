package dashboard

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestChartSVG(t *testing.T) {
	t.Parallel()
	completed := make([]int64, 60)
	completed[0], completed[59] = 10, 4 // now, and an hour ago
	failed := []int64{0, 5}
	svg := string(chartSVG("chart-0", `a<b>"q"`, completed, failed))

	require.True(t, strings.HasPrefix(svg, `<svg class="chart"`))
	require.Contains(t, svg, `Throughput of a&lt;b&gt;&#34;q&#34;, last hour`)
	require.Contains(t, svg, "14 completed and 5 failed in the last 60 minutes; peak 10 per minute.")
	require.Contains(t, svg, `<text class="tick" x="36" y="18" text-anchor="end">10</text>`)
	// Oldest on the left: the first point is an hour ago (4 of a peak of 10).
	require.Contains(t, svg, `<polyline class="completed" points="40.0,86.0 `)
	require.Contains(t, svg, ` 592.0,8.0"/>`)
	// The failed line has 60 points though only two minutes were given.
	_, rest, _ := strings.Cut(svg, `class="failed" points="`)
	points, _, _ := strings.Cut(rest, `"`)
	require.Len(t, strings.Fields(points), 60)
}

func TestChartSVGEmpty(t *testing.T) {
	t.Parallel()
	svg := string(chartSVG("c", "q", nil, nil))
	require.Contains(t, svg, "0 completed and 0 failed")
	require.Contains(t, svg, ">1</text>", "an empty chart still has a scale")
}
