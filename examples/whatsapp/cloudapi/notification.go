package cloudapi

// ObjectWhatsApp is the Notification.Object of WhatsApp Business Account
// webhooks; other objects are not for this app.
const ObjectWhatsApp = "whatsapp_business_account"

// FieldMessages is the Change.Field that carries messages and statuses.
const FieldMessages = "messages"

// Notification is the body of a webhook POST: entries, each with changes.
// One POST can hold several entries, changes, messages and statuses.
type Notification struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry is one WhatsApp Business Account's share of a notification.
type Entry struct {
	ID      string   `json:"id"`
	Changes []Change `json:"changes"`
}

// Change is one change of an entry; only Field "messages" is handled.
type Change struct {
	Field string `json:"field"`
	Value Value  `json:"value"`
}

// Value holds inbound messages, or receipts for messages the business
// sent, or asynchronous errors, for one business phone number.
type Value struct {
	MessagingProduct string    `json:"messaging_product"`
	Metadata         Metadata  `json:"metadata"`
	Contacts         []Contact `json:"contacts,omitempty"`
	Messages         []Message `json:"messages,omitempty"`
	Statuses         []Status  `json:"statuses,omitempty"`
	Errors           []Error   `json:"errors,omitempty"`
}

// Metadata names the business phone number a change is about; replies are
// sent from PhoneNumberID.
type Metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// Contact is the sender of inbound messages.
type Contact struct {
	Profile Profile `json:"profile"`
	WaID    string  `json:"wa_id,omitempty"`
}

// Profile is a contact's public profile.
type Profile struct {
	Name string `json:"name"`
}

// The message types of Message.Type.
const (
	TypeText        = "text"
	TypeImage       = "image"
	TypeAudio       = "audio"
	TypeVideo       = "video"
	TypeDocument    = "document"
	TypeSticker     = "sticker"
	TypeLocation    = "location"
	TypeContacts    = "contacts"
	TypeInteractive = "interactive"
	TypeButton      = "button"
	TypeReaction    = "reaction"
	TypeOrder       = "order"
	TypeSystem      = "system"
	TypeUnsupported = "unsupported"
)

// Message is one inbound message. ID (the wamid) is its idempotency key:
// Meta delivers at least once and retries for days. From may be empty on
// newer payloads that carry other user identifiers.
type Message struct {
	From        string          `json:"from,omitempty"`
	ID          string          `json:"id"`
	Timestamp   string          `json:"timestamp"`
	Type        string          `json:"type"`
	Text        *Text           `json:"text,omitempty"`
	Image       *Media          `json:"image,omitempty"`
	Audio       *Media          `json:"audio,omitempty"`
	Video       *Media          `json:"video,omitempty"`
	Document    *Media          `json:"document,omitempty"`
	Sticker     *Media          `json:"sticker,omitempty"`
	Location    *Location       `json:"location,omitempty"`
	Interactive *Interactive    `json:"interactive,omitempty"`
	Button      *Button         `json:"button,omitempty"`
	Reaction    *Reaction       `json:"reaction,omitempty"`
	Context     *MessageContext `json:"context,omitempty"`
	Errors      []Error         `json:"errors,omitempty"`
}

// Text is a text message's content.
type Text struct {
	Body string `json:"body"`
}

// Media is an image, audio, video, document or sticker: the media ID to
// look up its download URL with, and what Meta says about it.
type Media struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// Location is a shared location.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// Interactive is the user's answer to a button or list message.
type Interactive struct {
	Type        string       `json:"type"`
	ButtonReply *ReplyChoice `json:"button_reply,omitempty"`
	ListReply   *ReplyChoice `json:"list_reply,omitempty"`
}

// ReplyChoice is the option the user picked.
type ReplyChoice struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Button is a quick-reply button press on a template message.
type Button struct {
	Payload string `json:"payload"`
	Text    string `json:"text"`
}

// Reaction is an emoji reaction to a message (an empty Emoji removes it).
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// MessageContext is set when the user replied to an earlier message.
type MessageContext struct {
	From string `json:"from,omitempty"`
	ID   string `json:"id"`
}

// The delivery statuses of Status.Status, in the order they normally come.
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
)

// Status is a receipt for a message the business sent. Receipts can come
// more than once and out of order.
type Status struct {
	ID                    string        `json:"id"`
	Status                string        `json:"status"`
	Timestamp             string        `json:"timestamp"`
	RecipientID           string        `json:"recipient_id"`
	Conversation          *Conversation `json:"conversation,omitempty"`
	Pricing               *Pricing      `json:"pricing,omitempty"`
	Errors                []Error       `json:"errors,omitempty"`
	BizOpaqueCallbackData string        `json:"biz_opaque_callback_data,omitempty"`
}

// Conversation is the billing conversation a status belongs to.
type Conversation struct {
	ID                  string  `json:"id"`
	ExpirationTimestamp string  `json:"expiration_timestamp,omitempty"`
	Origin              *Origin `json:"origin,omitempty"`
}

// Origin is what opened a conversation.
type Origin struct {
	Type string `json:"type"`
}

// Pricing is how a message is billed.
type Pricing struct {
	Billable     bool   `json:"billable"`
	PricingModel string `json:"pricing_model"`
	Category     string `json:"category"`
}

// Error is an error inside a webhook payload (a failed status, an
// asynchronous error).
type Error struct {
	Code      int        `json:"code"`
	Title     string     `json:"title,omitempty"`
	Message   string     `json:"message,omitempty"`
	ErrorData *ErrorData `json:"error_data,omitempty"`
}

// ErrorData carries the details Meta advises branching on, with the code.
type ErrorData struct {
	MessagingProduct string `json:"messaging_product,omitempty"`
	Details          string `json:"details,omitempty"`
}
