package main

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/chart.golden.svg")

// The chart of a saved run (testdata/run.json, a short real -peers run)
// is byte for byte the golden file; -update rewrites it after a change
// someone has looked at.
func TestChartMatchesGolden(t *testing.T) {
	run, err := loadRun(filepath.Join("testdata", "run.json"))
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, writeChart(&b, run))

	golden := filepath.Join("testdata", "chart.golden.svg")
	if *update {
		require.NoError(t, os.WriteFile(golden, b.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), b.String())
}

func TestChartIsWellFormedXMLWithABarPerFigure(t *testing.T) {
	run := tableRun()
	var b bytes.Buffer
	require.NoError(t, writeChart(&b, run))
	d := xml.NewDecoder(&b)
	bars := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			for _, a := range se.Attr {
				if a.Name.Local == "height" && a.Value == "11.0" {
					bars++
				}
			}
		}
	}
	// tableRun's jobs/s figures: add 3, 50 in flight 3, bulk 2, conc 1 remove 3, conc 50 keep 3.
	require.Equal(t, 14, bars)
}

func TestChartNeedsFigures(t *testing.T) {
	require.Error(t, writeChart(io.Discard, &benchRun{}))
}

func TestNiceScale(t *testing.T) {
	for _, c := range []struct{ top, max, step float64 }{
		{95857, 100000, 20000},
		{60000, 60000, 20000},
		{12000, 15000, 5000},
		{7, 8, 2},
	} {
		m, s := niceScale(c.top)
		require.Equal(t, c.max, m, "top %v", c.top)
		require.Equal(t, c.step, s, "top %v", c.top)
	}
}
