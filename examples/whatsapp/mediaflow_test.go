package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
)

// hasFlows reports whether the app's backend has flows (AddFlow works).
func (b *bundle) hasFlows() bool {
	_, ok := b.app.storage.backend.(backend.Flows)
	return ok
}

// testPNG is a w x h PNG with a gradient.
func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: 80, A: 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// postMedia posts one media message and requires a 200.
func (b *bundle) postMedia(wamid, kind string, m cloudapi.Media) {
	b.t.Helper()
	require.Equal(b.t, http.StatusOK, b.post(mustJSON(b.t, cloudapi.MediaNotification(inbound(wamid), kind, m))))
}

// flowJobs returns the media flow of a message: its parent and children,
// by name, as the media queue holds them now.
func (b *bundle) flowJobs(wamid string) map[string]*fila.Job {
	b.t.Helper()
	out := map[string]*fila.Job{}
	for name, id := range map[string]string{jobMedia: mediaKey(wamid), jobDownload: downloadKey(wamid), jobThumbnail: thumbnailKey(wamid), jobScan: scanKey(wamid)} {
		j, err := b.app.queues.media.GetJob(context.Background(), id)
		require.NoError(b.t, err, "job %s", id)
		out[name] = j
	}
	return out
}

func TestMediaFlow(t *testing.T) {
	t.Parallel()
	for _, be := range testBackends {
		t.Run(be, func(t *testing.T) {
			t.Parallel()
			// start is setup for a backend with flows; the others take the
			// single media job, which TestFlow covers.
			start := func(t *testing.T) *bundle {
				b := setup(t, be)
				if !b.hasFlows() {
					t.Skipf("the %s backend has no flows (AddFlow returns ErrUnsupported)", be)
				}
				return b
			}

			t.Run("a photo's parent runs after its three children and answers with what they found", func(t *testing.T) {
				t.Parallel()
				b := start(t)
				img := testPNG(t, 640, 480)
				b.fake.AddMedia("m-photo", "image/png", img)
				b.postMedia("wamid.mf.1", cloudapi.TypeImage, cloudapi.Media{ID: "m-photo", MimeType: "image/png"})
				b.waitAccepted(fakegraph.Send, 1)
				b.waitIdle()

				require.Equal(t, fmt.Sprintf("Thanks for the photo (image/png, 640x480, %s). A person will look at it and answer here.", formatSize(int64(len(img)))),
					b.fake.Accepted(fakegraph.Send)[0].Text)
				jobs := b.flowJobs("wamid.mf.1")
				parent := jobs[jobMedia]
				require.Equal(t, fila.StateCompleted, parent.State)
				require.Equal(t, 1, parent.AttemptsStarted, "the parent ran once")
				for _, name := range []string{jobDownload, jobThumbnail, jobScan} {
					c := jobs[name]
					require.Equal(t, fila.StateCompleted, c.State, name)
					require.False(t, parent.ProcessedAt.Before(c.FinishedAt), "the parent started before %s finished", name)
				}
				var th ThumbnailResult
				require.NoError(t, json.Unmarshal(jobs[jobThumbnail].ReturnValue, &th))
				require.Equal(t, ThumbnailResult{Width: 640, Height: 480, ThumbWidth: 160, ThumbHeight: 120, ThumbBytes: th.ThumbBytes}, th)
				require.Positive(t, th.ThumbBytes)
				var dl DownloadResult
				require.NoError(t, json.Unmarshal(jobs[jobDownload].ReturnValue, &dl))
				require.Equal(t, int64(len(img)), dl.Size)
				var sc ScanResult
				require.NoError(t, json.Unmarshal(jobs[jobScan].ReturnValue, &sc))
				require.Equal(t, ScanResult{Verdict: verdictClean, Detected: "image/png", Size: int64(len(img))}, sc)
				var ref MediaRef
				require.NoError(t, json.Unmarshal(parent.ReturnValue, &ref))
				require.Equal(t, dl.SHA256, ref.SHA256)
			})

			t.Run("a voice note has no preview and is answered with its type and size", func(t *testing.T) {
				t.Parallel()
				b := start(t)
				ogg := append([]byte("OggS\x00\x02"), bytes.Repeat([]byte{7}, 2000)...)
				b.fake.AddMedia("m-voice", "audio/ogg", ogg)
				b.postMedia("wamid.mf.2", cloudapi.TypeAudio, cloudapi.Media{ID: "m-voice", MimeType: "audio/ogg"})
				b.waitAccepted(fakegraph.Send, 1)
				b.waitIdle()
				require.Equal(t, "Thanks for the voice note (audio/ogg, 2.0 KiB). A person will look at it and answer here.", b.fake.Accepted(fakegraph.Send)[0].Text)
				var th ThumbnailResult
				require.NoError(t, json.Unmarshal(b.flowJobs("wamid.mf.2")[jobThumbnail].ReturnValue, &th))
				require.Equal(t, ThumbnailResult{Note: "no preview for audio audio/ogg"}, th)
			})

			t.Run("the scan rejects a program sent as a document and text sent as a photo", func(t *testing.T) {
				t.Parallel()
				b := start(t)
				b.fake.AddMedia("m-exe", "application/pdf", append([]byte("MZ\x90\x00"), make([]byte, 600)...))
				b.fake.AddMedia("m-text", "image/jpeg", []byte("this is not a photo at all"))
				b.postMedia("wamid.mf.3", cloudapi.TypeDocument, cloudapi.Media{ID: "m-exe", MimeType: "application/pdf", Filename: "invoice.pdf"})
				b.postMedia("wamid.mf.4", cloudapi.TypeImage, cloudapi.Media{ID: "m-text", MimeType: "image/jpeg"})
				b.waitAccepted(fakegraph.Send, 2)
				b.waitIdle()
				got := map[string]string{}
				for _, s := range b.fake.Accepted(fakegraph.Send) {
					got[s.ReplyTo] = s.Text
				}
				require.Equal(t, map[string]string{
					"wamid.mf.3": "Thanks for the document. It was not accepted: the file is a program. Please send another one.",
					"wamid.mf.4": "Thanks for the photo. It was not accepted: the content is text/plain; charset=utf-8, not a photo. Please send another one.",
				}, got)
				// The photo that is not one fails its thumbnail for good;
				// IgnoreFailure lets the parent answer anyway.
				jobs := b.flowJobs("wamid.mf.4")
				require.Equal(t, fila.StateFailed, jobs[jobThumbnail].State)
				require.Equal(t, fila.StateCompleted, jobs[jobMedia].State)
			})

			t.Run("a file that cannot be fetched is answered once its children failed for good", func(t *testing.T) {
				t.Parallel()
				b := start(t)
				b.fake.Script(fakegraph.Media, fakegraph.InvalidParameter(), fakegraph.InvalidParameter(), fakegraph.InvalidParameter())
				b.postMedia("wamid.mf.5", cloudapi.TypeVideo, cloudapi.Media{ID: "m-gone", MimeType: "video/mp4"})
				b.waitAccepted(fakegraph.Send, 1)
				b.waitIdle()
				require.Equal(t, "Thanks for the video. It could not be fetched; please send it again.", b.fake.Accepted(fakegraph.Send)[0].Text)
				jobs := b.flowJobs("wamid.mf.5")
				for _, name := range []string{jobDownload, jobThumbnail, jobScan} {
					require.Equal(t, fila.StateFailed, jobs[name].State, name)
				}
				c, err := jobs[jobMedia].Children(context.Background())
				require.NoError(t, err)
				require.Len(t, c.Failed, 3)
				require.Equal(t, 0, c.Pending)
			})

			t.Run("a delivery posted twice adds its flow once", func(t *testing.T) {
				t.Parallel()
				b := start(t)
				body := mustJSON(t, cloudapi.MediaNotification(inbound("wamid.mf.6"), cloudapi.TypeImage, cloudapi.Media{ID: "m-x", MimeType: "image/jpeg"}))
				require.Equal(t, http.StatusOK, b.post(body))
				require.Equal(t, http.StatusOK, b.post(body))
				b.waitAccepted(fakegraph.Send, 1)
				b.waitIdle()
				require.Len(t, b.fake.Accepted(fakegraph.Send), 1)
				require.Equal(t, int64(4), b.counts()[queueMedia].Completed+b.counts()[queueMedia].Failed)
			})
		})
	}
}

// noFlows is the memory backend without the optional backend.Flows
// interface (and with every other one): FlowAdd, promoted from both
// embedded fields at the same depth, is ambiguous, so not promoted.
type noFlows struct {
	*memory.Backend
	hideFlowAdd
}

type hideFlowAdd struct{}

func (hideFlowAdd) FlowAdd() {}

var _ backend.Flows = (*memory.Backend)(nil)

// A backend without flows gets the single media job, and says so once.
func TestMediaWithoutFlows(t *testing.T) {
	t.Parallel()
	be := memory.New()
	t.Cleanup(func() { be.Close() })
	var logs bytes.Buffer
	h := &inboundHandler{
		queues: newQueues(noFlows{Backend: be}, DefaultSettings(10)),
		log:    slog.New(slog.NewTextHandler(&logs, nil)),
	}
	_, ok := any(noFlows{}).(backend.Flows)
	require.False(t, ok)
	ctx := context.Background()
	for _, id := range []string{"wamid.nf.1", "wamid.nf.2"} {
		r := ReplyJob{To: testUser, MessageID: id, Type: cloudapi.TypeImage, Media: &MediaRef{ID: "m-" + id, MimeType: "image/png"}}
		require.NoError(t, h.addMedia(ctx, testUser, r))
		j, err := h.queues.media.GetJob(ctx, mediaKey(id))
		require.NoError(t, err)
		require.Equal(t, jobMedia, j.Name)
		require.Equal(t, fila.StateWaiting, j.State)
		var m MediaJob
		require.NoError(t, json.Unmarshal(j.Data, &m))
		require.False(t, m.Flow)
		_, err = h.queues.media.GetJob(ctx, downloadKey(id))
		require.ErrorIs(t, err, fila.ErrJobNotFound)
	}
	require.Equal(t, 1, strings.Count(logs.String(), "the backend has no flows"), logs.String())
}
