package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
)

// TestGroupedCustomers: one customer sends 20 messages at once while 50
// others send one each. Every customer's replies arrive in order, no
// recipient gets two sends closer than the pair interval (at the fake
// Graph API, less the scheduling jitter of a loaded machine), and the 50
// one-message customers are all answered before the chatty one's 20th
// reply. The pair interval is shortened from 6s to keep the test short;
// the rule is the same.
func TestGroupedCustomers(t *testing.T) {
	t.Parallel()
	for _, be := range []string{"memory", "redis"} {
		t.Run(be, func(t *testing.T) {
			t.Parallel()
			const interval, chattyN, others = 600 * time.Millisecond, 20, 50
			b := setup(t, be, func(c *Config) { c.Queues.Outbound.Groups.Rate.Per = interval })
			const chatty = "16505550100"
			msg := func(from string, i int) (string, []byte) {
				in := inbound(fmt.Sprintf("wamid.%s.%02d", from, i))
				in.From, in.Name = from, "User "+from
				return in.ID, mustJSON(t, cloudapi.TextNotification(in, "hours?"))
			}
			want := map[string][]string{} // recipient -> the inbound ids, in order
			for i := range chattyN {
				id, body := msg(chatty, i)
				want[chatty] = append(want[chatty], id)
				require.Equal(t, http.StatusOK, b.post(body))
			}
			for u := range others {
				from := fmt.Sprintf("1650556%04d", u)
				id, body := msg(from, 0)
				want[from] = []string{id}
				require.Equal(t, http.StatusOK, b.post(body))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			require.NoError(t, b.fake.WaitAccepted(ctx, fakegraph.Send, chattyN+others))

			got := map[string][]fakegraph.Call{}
			for _, c := range b.fake.Accepted(fakegraph.Send) {
				got[c.To] = append(got[c.To], c)
			}
			require.Len(t, got, others+1)
			for to, ids := range want {
				calls := got[to]
				require.Len(t, calls, len(ids), "replies to %s", to)
				for i, c := range calls {
					require.Equal(t, ids[i], c.ReplyTo, "reply %d to %s out of order", i, to)
					if i > 0 {
						gap := c.At.Sub(calls[i-1].At)
						require.GreaterOrEqual(t, gap, interval/2, "two sends to %s %s apart", to, gap)
					}
				}
			}
			last := got[chatty][chattyN-1].At
			for to, calls := range got {
				if to != chatty {
					require.True(t, calls[0].At.Before(last), "%s answered after the chatty customer's last reply", to)
				}
			}
		})
	}
}
