package main

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// RuleBot is the default Responder: a few keyword rules, enough to show
// the pipeline end to end. Replace it with a model behind the same
// interface.
type RuleBot struct{}

// The bot's fixed answers.
const (
	botHelp    = "I can tell you our *hours*, our *prices*, or get you a *human*. You can also send a photo, a voice note or a document."
	botHours   = "We are open Monday to Friday, 9:00 to 18:00."
	botPrices  = "Our plans start at 9 EUR a month. Reply *human* and a person will send you an offer."
	botHuman   = "Thanks, a person from our team will answer you here shortly."
	botUnknown = "Sorry, I can only read text, photos, voice notes and documents. Reply *help* to see what I can do."
)

// Respond implements Responder.
func (RuleBot) Respond(_ context.Context, in Incoming) (Answer, error) {
	switch in.Type {
	case cloudapi.TypeImage, cloudapi.TypeAudio, cloudapi.TypeVideo, cloudapi.TypeDocument, cloudapi.TypeSticker:
		return Answer{Text: mediaAnswer(in)}, nil
	case cloudapi.TypeLocation:
		if in.Location != nil {
			return Answer{Text: fmt.Sprintf("Thanks, I got your location (%.4f, %.4f).", in.Location.Latitude, in.Location.Longitude)}, nil
		}
	case cloudapi.TypeText, cloudapi.TypeInteractive, cloudapi.TypeButton:
		return Answer{Text: textAnswer(in)}, nil
	}
	return Answer{Text: botUnknown}, nil
}

// textAnswer matches keywords of a text.
func textAnswer(in Incoming) string {
	words := strings.FieldsFunc(strings.ToLower(in.Text), func(r rune) bool { return !unicode.IsLetter(r) })
	has := func(keys ...string) bool {
		for _, w := range words {
			for _, k := range keys {
				if w == k {
					return true
				}
			}
		}
		return false
	}
	switch {
	case has("hours", "open", "opening", "close", "closing"):
		return botHours
	case has("price", "prices", "cost", "plan", "plans"):
		return botPrices
	case has("human", "agent", "person", "someone"):
		return botHuman
	case has("help", "menu"):
		return botHelp
	case has("hi", "hello", "hey", "hola", "ola", "olá", "oi", "bonjour", "hallo", "ciao"):
		name := in.Name
		if name == "" {
			name = "there"
		}
		return fmt.Sprintf("Hi %s! %s", name, botHelp)
	}
	return fmt.Sprintf("You said %q, and I did not understand. Reply *help* to see what I can do.", clip(in.Text, 200))
}

// mediaAnswer acknowledges a media file with what the lookup found.
func mediaAnswer(in Incoming) string {
	s := "Thanks for the " + mediaKind(in.Type)
	if m := in.Media; m != nil {
		switch {
		case m.Rejected != "":
			return fmt.Sprintf("%s. It was not accepted: %s. Please send another one.", s, m.Rejected)
		case m.Unavailable != "":
			return s + ". It could not be fetched; please send it again."
		}
		var about []string
		if m.MimeType != "" {
			about = append(about, m.MimeType)
		}
		if m.Width > 0 && m.Height > 0 {
			about = append(about, fmt.Sprintf("%dx%d", m.Width, m.Height))
		}
		if m.Size > 0 {
			about = append(about, formatSize(m.Size))
		}
		if len(about) > 0 {
			s += " (" + strings.Join(about, ", ") + ")"
		}
		if m.Caption != "" {
			s += fmt.Sprintf(" with the caption %q", clip(m.Caption, 200))
		}
	}
	return s + ". A person will look at it and answer here."
}

// mediaKind names a media message type for the user.
func mediaKind(typ string) string {
	return map[string]string{
		cloudapi.TypeImage: "photo", cloudapi.TypeAudio: "voice note", cloudapi.TypeVideo: "video",
		cloudapi.TypeDocument: "document", cloudapi.TypeSticker: "sticker",
	}[typ]
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// clip shortens s to at most n characters.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
