package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // decoders for image.Decode
	"image/jpeg"
	_ "image/png"
	"net/http"
	"strings"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// The media flow's children (see mediaflow.go). Each looks the file up
// (its URL is short-lived, so a child that runs later or again gets a
// fresh one) and streams it: download and scan read it without keeping
// it, thumbnail keeps an image only (at most 5 MiB).

// mediaLimit is the largest file WhatsApp accepts for a message type.
func mediaLimit(typ string) int64 {
	switch typ {
	case cloudapi.TypeImage:
		return 5 << 20
	case cloudapi.TypeSticker:
		return 500 << 10
	case cloudapi.TypeAudio, cloudapi.TypeVideo:
		return 16 << 20
	}
	return 100 << 20
}

// DownloadResult is the download child's value.
type DownloadResult struct {
	URL      string `json:"url"`
	MimeType string `json:"mime_type,omitempty"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
}

// ThumbnailResult is the thumbnail child's value: the image's size and
// its preview's (a JPEG at most thumbSide pixels on its longer side), or
// only a note for what has no preview.
type ThumbnailResult struct {
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	ThumbWidth  int    `json:"thumb_width,omitempty"`
	ThumbHeight int    `json:"thumb_height,omitempty"`
	ThumbBytes  int    `json:"thumb_bytes,omitempty"`
	Note        string `json:"note,omitempty"`
}

// ScanResult is the scan child's value.
type ScanResult struct {
	Verdict  string `json:"verdict"` // verdictClean or verdictRejected
	Detected string `json:"detected"`
	Size     int64  `json:"size"`
	Reason   string `json:"reason,omitempty"`
}

const (
	verdictClean    = "clean"
	verdictRejected = "rejected"
)

const (
	thumbSide = 160        // a preview's longer side, in pixels
	maxPixels = 40_000_000 // larger images are not decoded (a decompression bomb)
	sniffLen  = 512        // what http.DetectContentType reads
)

// lookup returns the file's fresh download URL and what the Graph API
// says it is.
func (h *mediaHandler) lookup(ctx context.Context, m *MediaRef) (*cloudapi.MediaInfo, error) {
	info, err := h.graph.Media(ctx, m.ID)
	if err != nil {
		return nil, jobError(err)
	}
	return info, nil
}

// download streams the file through SHA-256 and checks it against the
// checksum the lookup gave.
func (h *mediaHandler) download(ctx context.Context, r ReplyJob) (any, error) {
	info, err := h.lookup(ctx, r.Media)
	if err != nil {
		return nil, err
	}
	sum := sha256.New()
	n, err := h.graph.DownloadTo(ctx, info.URL, sum, mediaLimit(r.Type))
	if err != nil {
		return nil, downloadError(err)
	}
	got := hex.EncodeToString(sum.Sum(nil))
	if info.SHA256 != "" && !strings.EqualFold(info.SHA256, got) {
		// A truncated or altered transfer: another attempt downloads again.
		return nil, fmt.Errorf("media %q: SHA-256 %s, the Graph API says %s", r.Media.ID, got, info.SHA256)
	}
	return DownloadResult{URL: info.URL, MimeType: info.MimeType, Size: n, SHA256: got}, nil
}

// thumbnail decodes an image (JPEG, PNG, GIF) and scales it to a preview;
// other files get a note.
func (h *mediaHandler) thumbnail(ctx context.Context, r ReplyJob) (any, error) {
	info, err := h.lookup(ctx, r.Media)
	if err != nil {
		return nil, err
	}
	mime := info.MimeType
	if mime == "" {
		mime = r.Media.MimeType
	}
	if r.Type != cloudapi.TypeImage || !decodable(mime) {
		return ThumbnailResult{Note: "no preview for " + r.Type + " " + mime}, nil
	}
	var buf bytes.Buffer
	if _, err := h.graph.DownloadTo(ctx, info.URL, &buf, mediaLimit(r.Type)); err != nil {
		return nil, downloadError(err)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(buf.Bytes()))
	if err != nil {
		return nil, fila.Unrecoverable(fmt.Errorf("media %q (%s): not a readable image: %w", r.Media.ID, mime, err))
	}
	if cfg.Width*cfg.Height > maxPixels {
		return nil, fila.Unrecoverable(fmt.Errorf("media %q: %dx%d pixels, over %d", r.Media.ID, cfg.Width, cfg.Height, maxPixels))
	}
	img, _, err := image.Decode(&buf)
	if err != nil {
		return nil, fila.Unrecoverable(fmt.Errorf("media %q (%s): not a readable image: %w", r.Media.ID, mime, err))
	}
	th := scaleDown(img, thumbSide)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, th, &jpeg.Options{Quality: 75}); err != nil {
		return nil, fila.Unrecoverable(fmt.Errorf("media %q: encode preview: %w", r.Media.ID, err))
	}
	b := img.Bounds()
	return ThumbnailResult{Width: b.Dx(), Height: b.Dy(), ThumbWidth: th.Bounds().Dx(), ThumbHeight: th.Bounds().Dy(), ThumbBytes: out.Len()}, nil
}

func decodable(mime string) bool {
	switch strings.ToLower(strings.TrimSpace(strings.Split(mime, ";")[0])) {
	case "image/jpeg", "image/png", "image/gif":
		return true
	}
	return false
}

// scaleDown returns img scaled to at most side pixels on its longer side
// (each pixel the average of the source pixels it covers), or img itself
// when it is that small already.
func scaleDown(img image.Image, side int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= side && h <= side {
		return img
	}
	tw, th := side, max(h*side/w, 1)
	if h > w {
		tw, th = max(w*side/h, 1), side
	}
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	for y := range th {
		y0, y1 := b.Min.Y+y*h/th, b.Min.Y+max((y+1)*h/th, y*h/th+1)
		for x := range tw {
			x0, x1 := b.Min.X+x*w/tw, b.Min.X+max((x+1)*w/tw, x*w/tw+1)
			var r, g, bl, a, n uint64
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					cr, cg, cb, ca := img.At(sx, sy).RGBA()
					r, g, bl, a, n = r+uint64(cr), g+uint64(cg), bl+uint64(cb), a+uint64(ca), n+1
				}
			}
			i := dst.PixOffset(x, y)
			dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2], dst.Pix[i+3] = uint8(r/n>>8), uint8(g/n>>8), uint8(bl/n>>8), uint8(a/n>>8)
		}
	}
	return dst
}

// scan reads the file's first bytes for its real type and its length for
// the type's size limit: an executable, content that is not what the
// message type says, or a file over the limit is rejected (a verdict,
// not a failure: the parent tells the user).
func (h *mediaHandler) scan(ctx context.Context, r ReplyJob) (any, error) {
	info, err := h.lookup(ctx, r.Media)
	if err != nil {
		return nil, err
	}
	head := &headWriter{max: sniffLen}
	n, err := h.graph.DownloadTo(ctx, info.URL, head, mediaLimit(r.Type))
	detected := http.DetectContentType(head.buf)
	if errors.Is(err, cloudapi.ErrMediaTooLarge) {
		return ScanResult{Verdict: verdictRejected, Detected: detected, Size: n,
			Reason: fmt.Sprintf("the file is over the %s limit for %s messages", formatSize(mediaLimit(r.Type)), r.Type)}, nil
	}
	if err != nil {
		return nil, downloadError(err)
	}
	res := ScanResult{Verdict: verdictClean, Detected: detected, Size: n}
	switch {
	case n == 0:
		res.Verdict, res.Reason = verdictRejected, "the file is empty"
	case executable(head.buf):
		res.Verdict, res.Reason = verdictRejected, "the file is a program"
	case !fits(r.Type, detected):
		res.Verdict, res.Reason = verdictRejected, fmt.Sprintf("the content is %s, not a %s", detected, mediaKind(r.Type))
	}
	return res, nil
}

// executable reports whether a file starts like a Windows, Linux or macOS
// program, or a script.
func executable(head []byte) bool {
	for _, magic := range []string{"MZ", "\x7fELF", "\xcf\xfa\xed\xfe", "\xce\xfa\xed\xfe", "\xca\xfe\xba\xbe", "#!"} {
		if bytes.HasPrefix(head, []byte(magic)) {
			return true
		}
	}
	return false
}

// fits reports whether sniffed content suits a message type. Audio and
// video formats http.DetectContentType does not know (AMR, 3GPP) sniff as
// application/octet-stream and pass; a document may be anything.
func fits(typ, detected string) bool {
	switch typ {
	case cloudapi.TypeImage, cloudapi.TypeSticker:
		return strings.HasPrefix(detected, "image/")
	case cloudapi.TypeAudio, cloudapi.TypeVideo:
		return strings.HasPrefix(detected, "audio/") || strings.HasPrefix(detected, "video/") ||
			detected == "application/ogg" || detected == "application/octet-stream"
	}
	return true
}

// headWriter keeps the first max bytes written to it and discards the rest.
type headWriter struct {
	buf []byte
	max int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.max - len(w.buf); room > 0 {
		w.buf = append(w.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// downloadError is the job error of a failed download: a file over its
// limit stays so, other errors are retried by the Graph API policy.
func downloadError(err error) error {
	if errors.Is(err, cloudapi.ErrMediaTooLarge) {
		return fila.Unrecoverable(err)
	}
	return jobError(err)
}
