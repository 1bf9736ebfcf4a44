package main

import (
	"time"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// delivery is what one webhook POST asks of the app.
type delivery struct {
	messages []InboundJob
	statuses []StatusJob
	// ignored counts changes and items the app does not handle: other
	// objects and fields, items without an ID.
	ignored int
	// errors are asynchronous errors Meta reported; they are logged.
	errors []cloudapi.Error
}

// parseDelivery walks entry[].changes[] of a notification and collects the
// messages and statuses of "messages" changes.
func parseDelivery(n *cloudapi.Notification, at time.Time) delivery {
	var d delivery
	if n.Object != cloudapi.ObjectWhatsApp {
		d.ignored++
		return d
	}
	for _, e := range n.Entry {
		for _, c := range e.Changes {
			if c.Field != cloudapi.FieldMessages {
				d.ignored++
				continue
			}
			d.addChange(&c.Value, at)
		}
	}
	return d
}

func (d *delivery) addChange(v *cloudapi.Value, at time.Time) {
	d.errors = append(d.errors, v.Errors...)
	phone := v.Metadata.PhoneNumberID
	for _, m := range v.Messages {
		if m.ID == "" || phone == "" {
			d.ignored++
			continue
		}
		d.errors = append(d.errors, m.Errors...)
		name, waID := contactOf(v.Contacts, m.From)
		d.messages = append(d.messages, InboundJob{
			PhoneNumberID: phone, ContactName: name, ContactWaID: waID, Message: m, ReceivedAt: at,
		})
	}
	for _, s := range v.Statuses {
		if s.ID == "" || s.Status == "" {
			d.ignored++
			continue
		}
		d.statuses = append(d.statuses, StatusJob{PhoneNumberID: phone, Status: s})
	}
}

// contactOf finds the sender among a change's contacts: by WhatsApp ID, or
// the only contact of the change.
func contactOf(contacts []cloudapi.Contact, from string) (name, waID string) {
	for _, c := range contacts {
		if from != "" && c.WaID == from {
			return c.Profile.Name, c.WaID
		}
	}
	if len(contacts) == 1 {
		return contacts[0].Profile.Name, contacts[0].WaID
	}
	return "", ""
}
