package discord

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/model"
)

// Discord's documented limits for webhook messages.
const (
	MaxContent          = 2000
	MaxEmbeds           = 10
	MaxTitle            = 256
	MaxDescription      = 4096
	MaxFields           = 25
	MaxFieldName        = 256
	MaxFieldValue       = 1024
	MaxEmbedTotal       = 6000
	maxFieldsFromEvents = 12
	// Event data fields are kept short so that the description (the
	// summary and the last log lines) keeps most of the 6000 characters.
	dataFieldName  = 64
	dataFieldValue = 200
)

// Colours by severity and status.
const (
	colorCritical = 0xE01E5A
	colorWarning  = 0xECB22E
	colorInfo     = 0x439FE0
	colorResolved = 0x2EB67D
)

// Build renders an event as a webhook message within Discord's limits.
func Build(ev model.Event, link string) *discordgo.WebhookParams {
	e := &discordgo.MessageEmbed{
		Title:     truncate(fmt.Sprintf("[%s] %s %s", strings.ToUpper(ev.Status), ev.Name, strings.Trim(ev.Project+"/"+ev.Service, "/")), MaxTitle),
		Timestamp: ev.Time.UTC().Format(time.RFC3339),
		URL:       link,
		Color:     color(ev),
	}
	desc := ev.Summary
	if lines, ok := ev.Data["lastLines"].([]any); ok && len(lines) > 0 {
		var b strings.Builder
		for _, l := range lines {
			fmt.Fprintln(&b, l)
		}
		desc += "\n**Last lines**\n```\n" + strings.ReplaceAll(b.String(), "```", "'''") + "```"
	} else if lines, ok := ev.Data["lastLines"].([]string); ok && len(lines) > 0 {
		desc += "\n**Last lines**\n```\n" + strings.ReplaceAll(strings.Join(lines, "\n"), "```", "'''") + "\n```"
	}
	e.Description = truncate(desc, MaxDescription)
	if ev.Instance != "" {
		e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: "instance", Value: truncate(ev.Instance, MaxFieldValue), Inline: true})
	}
	e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: "severity", Value: string(ev.Severity), Inline: true})
	for _, k := range notify.DataKeys(ev) {
		if len(e.Fields) >= min(MaxFields, maxFieldsFromEvents) {
			break
		}
		v := fmt.Sprint(ev.Data[k])
		if v == "" {
			v = "-"
		}
		e.Fields = append(e.Fields, &discordgo.MessageEmbedField{Name: truncate(k, dataFieldName), Value: truncate(v, dataFieldValue), Inline: true})
	}
	fitTotal(e, MaxEmbedTotal)
	return &discordgo.WebhookParams{Embeds: []*discordgo.MessageEmbed{e}}
}

// BuildGroup renders up to MaxEmbeds events as one message, one embed
// each, sharing Discord's 6000-character budget for all embeds.
func BuildGroup(evs []model.Event, links []string) *discordgo.WebhookParams {
	if len(evs) > MaxEmbeds {
		evs = evs[:MaxEmbeds]
	}
	wm := &discordgo.WebhookParams{}
	for i, ev := range evs {
		e := Build(ev, links[i]).Embeds[0]
		fitTotal(e, MaxEmbedTotal/len(evs))
		wm.Embeds = append(wm.Embeds, e)
	}
	wm.Content = truncate(fmt.Sprintf("%d × %s %s", len(evs), evs[0].Name, evs[0].Status), MaxContent)
	return wm
}

// fitTotal drops fields and shortens the description until the embed's
// characters add up to at most budget.
func fitTotal(e *discordgo.MessageEmbed, budget int) {
	count := func() int {
		total := utf8.RuneCountInString(e.Title) + utf8.RuneCountInString(e.Description)
		for _, f := range e.Fields {
			total += utf8.RuneCountInString(f.Name) + utf8.RuneCountInString(f.Value)
		}
		return total
	}
	for count()-utf8.RuneCountInString(e.Description) > budget && len(e.Fields) > 0 {
		e.Fields = e.Fields[:len(e.Fields)-1]
	}
	if t := utf8.RuneCountInString(e.Title); t > budget {
		e.Title = truncate(e.Title, budget)
	}
	if over := count() - budget; over > 0 {
		n := max(0, utf8.RuneCountInString(e.Description)-over)
		e.Description = truncate(e.Description, n)
	}
}

func color(ev model.Event) int {
	if ev.Status == model.StatusResolved {
		return colorResolved
	}
	switch ev.Severity {
	case model.SeverityCritical:
		return colorCritical
	case model.SeverityWarning:
		return colorWarning
	}
	return colorInfo
}

// truncate cuts s to at most n characters, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return string([]rune(s)[:n])
	}
	return string([]rune(s)[:n-1]) + "…"
}
