package main

import (
	"image"
	"image/color"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

func TestScaleDown(t *testing.T) {
	t.Parallel()
	fill := func(w, h int, c color.RGBA) image.Image {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				img.SetRGBA(x, y, c)
			}
		}
		return img
	}
	t.Run("a portrait keeps its aspect on the longer side", func(t *testing.T) {
		t.Parallel()
		th := scaleDown(fill(300, 1200, color.RGBA{R: 10, G: 200, B: 30, A: 255}), 160)
		require.Equal(t, image.Rect(0, 0, 40, 160), th.Bounds())
		require.Equal(t, color.RGBA{R: 10, G: 200, B: 30, A: 255}, th.At(20, 80))
	})
	t.Run("each pixel is the average of the pixels it covers", func(t *testing.T) {
		t.Parallel()
		img := image.NewRGBA(image.Rect(0, 0, 400, 2))
		for x := range 400 {
			v := uint8(0)
			if x%2 == 1 {
				v = 200
			}
			img.SetRGBA(x, 0, color.RGBA{R: v, A: 255})
			img.SetRGBA(x, 1, color.RGBA{R: v, A: 255})
		}
		th := scaleDown(img, 200)
		require.Equal(t, image.Rect(0, 0, 200, 1), th.Bounds())
		r, _, _, _ := th.At(7, 0).RGBA()
		require.Equal(t, uint32(100), r>>8)
	})
	t.Run("a small image is kept as it is", func(t *testing.T) {
		t.Parallel()
		img := fill(100, 50, color.RGBA{A: 255})
		require.Same(t, img, scaleDown(img, 160))
	})
}

func TestScanRules(t *testing.T) {
	t.Parallel()
	require.True(t, executable([]byte("MZ\x90\x00")))
	require.True(t, executable([]byte("\x7fELF\x02")))
	require.True(t, executable([]byte("#!/bin/sh\n")))
	require.False(t, executable([]byte("%PDF-1.7")))
	require.True(t, fits(cloudapi.TypeImage, "image/png"))
	require.False(t, fits(cloudapi.TypeImage, "text/plain; charset=utf-8"))
	require.True(t, fits(cloudapi.TypeAudio, "application/ogg"))
	require.False(t, fits(cloudapi.TypeVideo, "application/pdf"))
	require.True(t, fits(cloudapi.TypeDocument, "application/pdf"))
	require.Equal(t, int64(5<<20), mediaLimit(cloudapi.TypeImage))
	require.Equal(t, int64(100<<20), mediaLimit(cloudapi.TypeDocument))
}
