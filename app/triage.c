/* triage.c: the embedded classifier's core (triage.h, doc/triage.md). Pure: a message
 * and its context in, a category with a confidence and reasons out; no database, no
 * network, no allocation per message beyond a classifier's scratch memory, which is
 * reused. The text read is bounded (TRIAGE_BODY_BYTES of the new part of the body). */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libstemmer.h>

#include "arena.h"
#include "triage.h"
#include "triage-model.h"
#include "util.h"

const char *const triage_builtin_slugs[TRIAGE_BUILTIN] = {
	"to-respond", "fyi", "comment", "notification", "meeting-update", "awaiting-reply",
	"actioned", "marketing",
};

static const char *const triage_builtin_names[TRIAGE_BUILTIN] = {
	"To respond", "FYI", "Comment", "Notification", "Meeting update", "Awaiting reply",
	"Actioned", "Marketing",
};

/* How much the user's corrections weigh against the prior's documents: one correction
 * counts as TRIAGE_USER_WEIGHT labelled messages of the shared corpus. */
#define TRIAGE_USER_WEIGHT 10.0
/* Laplace smoothing of the share of a class's documents that have a feature (which the
 * model reads only for features some document had), and how many documents must have
 * had it (the user's counting TRIAGE_USER_WEIGHT each) for it to count at all. */
#define TRIAGE_SMOOTH 1.0
#define TRIAGE_MIN_DOCS 2.0
/* The model's part in the scores: its log-posterior, tempered, times this, floored. */
#define TRIAGE_NB_GAIN 0.8
#define TRIAGE_NB_FLOOR (-8.0)
/* The confidence of a decision made by thread state or a calendar part. */
#define TRIAGE_STRONG_CONFIDENCE 0.95
#define TRIAGE_MAX_CONFIDENCE 0.99
#define TRIAGE_MAX_SIGNALS 48
#define TRIAGE_MAX_SENTENCES 512
#define TRIAGE_TOKEN_MAX 40        /* bytes: longer "words" are URLs or garbage */
#define TRIAGE_QUOTE_BYTES 90      /* bytes of a sentence quoted in a reason */

int
triage_builtin_index(const char *slug)
{
	for (int i = 0; i < TRIAGE_BUILTIN; i++) {
		if (slug != NULL && strcmp(slug, triage_builtin_slugs[i]) == 0)
			return i;
	}
	return -1;
}

int
triage_slug_valid(const char *s)
{
	size_t n;

	if (s == NULL || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
		return 0;
	for (n = 1; s[n] != '\0'; n++) {
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '-'))
			return 0;
	}
	return n <= 40;
}

/* ---- lexicons ---- */

/* What a phrase of the lexicons says of a sentence. */
enum triage_lex {
	LEX_REQUEST,       /* asks the reader to do something */
	LEX_DEADLINE,
	LEX_MEETING,
	LEX_UNSUBSCRIBE,
	LEX_PROMOTION,
	LEX_AUTOMATED,     /* says a program sent it */
	LEX_NOTICE,        /* orders, accounts, code review: what services notify */
	LEX_FYI,
	LEX_THANKS,
	LEX_YOU,           /* second person: a question addressed to the reader */
	LEX_ASK,           /* words a question starts with */
	LEX_COUNT
};

/* Phrases separated by "|", in lower case, English, German, French and Spanish (and a
 * few Italian, Portuguese and Dutch); they are split into words by the same tokenizer as
 * the text ("s'il vous plaît" is "s il vous plaît"). "#pct" stands for "N%", "#money"
 * for a currency sign. */
static const char *const triage_lex_src[LEX_COUNT] = {
	[LEX_REQUEST] =
	    "could you|can you|would you|will you|please|pls|let me know|i need you|"
	    "need your|your thoughts|your feedback|your input|get back to me|"
	    "would you mind|are you able|kindly|can we|could we|please confirm|"
	    "please review|please send|please advise|"
	    "kannst du|könntest du|können sie|könnten sie|würden sie|würdest du|bitte|"
	    "gib mir bescheid|geben sie mir bescheid|sag mir bescheid|lass mich wissen|"
	    "ich brauche|ihre rückmeldung|deine rückmeldung|melde dich|melden sie sich|"
	    "pouvez vous|pourriez vous|peux tu|pourrais tu|merci de|s il vous plaît|"
	    "s il vous plait|s il te plaît|svp|tenez moi au courant|dites moi|dis moi|"
	    "j ai besoin|votre avis|ton avis|"
	    "puedes|podrías|podrias|podría|podrían|por favor|avísame|avisame|hazme saber|"
	    "necesito|tu opinión|su opinión|quedo atento|quedo atenta|quedo a la espera|"
	    "potresti|per favore|você pode|por gentileza|kun je|zou je|graag",
	[LEX_DEADLINE] =
	    "deadline|asap|as soon as possible|urgent|urgently|eod|end of day|by end of|"
	    "by tomorrow|by today|by tonight|by monday|by tuesday|by wednesday|by thursday|"
	    "by friday|by the end of|due date|due by|no later than|time sensitive|"
	    "frist|dringend|spätestens|so schnell wie möglich|bis morgen|bis heute|"
	    "bis montag|bis dienstag|bis mittwoch|bis donnerstag|bis freitag|bis ende|"
	    "date limite|délai|échéance|au plus tard|dès que possible|d ici demain|"
	    "avant demain|avant lundi|avant mardi|avant mercredi|avant jeudi|avant vendredi|"
	    "fecha límite|plazo|urgente|cuanto antes|lo antes posible|a más tardar|"
	    "para mañana|antes del lunes|antes del viernes|antes de mañana|scadenza|prazo",
	[LEX_MEETING] =
	    "meeting|meetings|call|zoom|teams meeting|google meet|reschedule|invite|"
	    "calendar invite|agenda|conference call|catch up|availability|"
	    "are you available|are you free|free for a|let s meet|appointment|webex|"
	    "besprechung|termin|terminvorschlag|verschieben|telefonat|treffen|"
	    "videokonferenz|kalender|einladung|"
	    "réunion|rendez vous|rdv|visio|visioconférence|disponibilité|disponibilités|"
	    "créneau|reporter la|"
	    "reunión|reunion|llamada|videollamada|disponibilidad|reprogramar|convocatoria|"
	    "riunione|reunião|vergadering|afspraak",
	[LEX_UNSUBSCRIBE] =
	    "unsubscribe|opt out|manage preferences|manage your preferences|"
	    "email preferences|update your preferences|view in browser|view in your browser|"
	    "view this email in your browser|abmelden|abbestellen|newsletter abbestellen|"
	    "im browser anzeigen|im browser ansehen|désabonner|se désabonner|"
	    "se désinscrire|désinscription|désinscrire|voir la version en ligne|"
	    "darse de baja|darte de baja|cancelar suscripción|cancelar la suscripción|"
	    "ver en el navegador|ver en tu navegador|annulla iscrizione|descadastrar|"
	    "afmelden|uitschrijven",
	[LEX_PROMOTION] =
	    "#pct off|#pct|sale|discount|limited time|special offer|free shipping|shop now|"
	    "buy now|order now|deal|deals|coupon|promo|promo code|black friday|"
	    "cyber monday|exclusive offer|save up to|last chance|don t miss|"
	    "rabatt|angebot|angebote|gutschein|jetzt kaufen|jetzt bestellen|"
	    "versandkostenfrei|sonderangebot|nur heute|"
	    "soldes|réduction|offre spéciale|livraison gratuite|code promo|profitez|"
	    "dernière chance|bon plan|"
	    "oferta|ofertas|descuento|descuentos|rebajas|envío gratis|promoción|"
	    "compra ahora|aprovecha|última oportunidad|sconto|desconto|korting",
	[LEX_AUTOMATED] =
	    "do not reply|don t reply|please do not reply|no reply|automatically generated|"
	    "automated message|this is an automated|automatic notification|"
	    "notification settings|you are receiving this because|this message was sent "
	    "automatically|"
	    "automatisch generiert|automatisch erstellt|automatisch versendet|"
	    "bitte antworten sie nicht|nicht auf diese e mail antworten|"
	    "ne pas répondre|ne répondez pas|message automatique|généré automatiquement|"
	    "envoyé automatiquement|no responda|no responder|mensaje automático|"
	    "generado automáticamente|enviado automáticamente|non rispondere|não responda",
	[LEX_NOTICE] =
	    "your order|order confirmation|has shipped|shipping confirmation|password reset|"
	    "reset your password|verification code|security alert|new sign in|sign in "
	    "attempt|receipt|invoice|payment received|your account|pull request|"
	    "merge request|commented on|assigned to you|mentioned you|build failed|"
	    "build succeeded|pipeline failed|your subscription|your statement|"
	    "bestellbestätigung|ihre bestellung|deine bestellung|rechnung|passwort|"
	    "versandbestätigung|zahlungseingang|ihr konto|dein konto|"
	    "votre commande|confirmation de commande|facture|mot de passe|paiement reçu|"
	    "votre compte|code de vérification|"
	    "tu pedido|su pedido|confirmación de pedido|factura|contraseña|recibo|"
	    "tu cuenta|su cuenta|código de verificación|ordine|fattura|pedido",
	[LEX_FYI] =
	    "fyi|for your information|for your reference|just so you know|heads up|"
	    "no action needed|no action required|nothing to do|just letting you know|"
	    "zur info|zur kenntnis|zu ihrer information|zur information|zu deiner info|"
	    "pour info|pour information|pour ton information|pour votre information|"
	    "pour rappel|para tu información|para su información|para tu conocimiento|"
	    "para que lo sepas|a título informativo|per conoscenza|ter informatie",
	[LEX_THANKS] =
	    "thanks|thank you|thx|many thanks|cheers|danke|vielen dank|danke schön|"
	    "merci|merci beaucoup|gracias|muchas gracias|grazie|obrigado|obrigada|bedankt",
	[LEX_YOU] =
	    "you|your|yours|u|du|dich|dir|dein|deine|ihr|euch|sie|ihnen|vous|tu|te|toi|"
	    "ton|ta|tes|votre|vos|usted|ustedes|tú|ti|tu|su|vosotros|voi|você|jij|je|u",
	[LEX_ASK] =
	    "can|could|would|will|do|does|did|are|is|have|has|should|shall|any|what|when|"
	    "where|how|why|which|who|kannst|könntest|können|könnten|hast|hättest|habt|"
	    "haben|wann|wie|was|wo|warum|welche|wer|gibt|pouvez|pourriez|peux|avez|as|"
	    "est|quand|comment|pourquoi|quel|quelle|qui|où|puedes|podrías|podría|tienes|"
	    "tiene|cuándo|cómo|qué|dónde|por|quién|cuál|hay",
};

/* Stop words: the most frequent words of each language the stemmers handle, to pick the
 * language of a text (whichever language has the most of them wins). */
static const struct {
	const char *stemmer;
	const char *words;
} triage_languages[] = {
	{ "english", "the and to of a in is it you that for on are with this be as have "
	    "i we at your will not can from or by our my me if was but would please" },
	{ "german", "der die das und ist nicht ich sie es zu den mit ein eine auf für "
	    "von dem wir ihr du im sind auch wie aber bitte hat haben wird noch" },
	{ "french", "le la les et est des un une pas que qui pour dans je vous nous il "
	    "elle en du au sur avec ce cette sont merci mais ou votre" },
	{ "spanish", "el la los las y es que de en un una por para con no se lo su al "
	    "del como pero más usted muy gracias está son hola" },
	{ "italian", "il lo gli della di che è non per una sono con mi ti ci grazie "
	    "questo anche ma come alla nel" },
	{ "portuguese", "o os as um uma que não para com em é do da dos das você obrigado "
	    "mais mas como está" },
	{ "dutch", "de het een en van is niet ik je we zijn met voor op dat er dit "
	    "maar ook bedankt heb" },
};
#define TRIAGE_NLANG (sizeof triage_languages / sizeof triage_languages[0])

/* ---- the classifier ---- */

#define TRIAGE_PHRASE_WORDS 8
#define TRIAGE_WORD_BUCKETS 2048     /* a power of two */
#define TRIAGE_SEEN_SLOTS 4096       /* a power of two, > 2 * TRIAGE_MAX_FEATURES */

struct triage_phrase {
	enum triage_lex kind;
	size_t n;
	const char *w[TRIAGE_PHRASE_WORDS];
	int next;                        /* the next phrase with the same first word */
};

/* A word of the lexicons: which languages have it as a stop word, which phrases start
 * with it. */
struct triage_word {
	const char *s;
	uint64_t h;
	unsigned stop;                   /* bit i: a stop word of triage_languages[i] */
	unsigned single;                 /* bit k: a one-word phrase of kind k */
	int phrases;                     /* the first phrase (of two words or more), -1 */
	int next;
};

struct triage_tok {
	const char *s;                   /* in the lowered text, or a "#pct" pseudo word */
	size_t len;
	unsigned sent;                   /* its sentence */
	int word;                        /* its entry among the lexicon's words, or -1 */
};

struct triage_sent {
	size_t off, end;                 /* bytes of the text */
	int question;                    /* it ends with "?" */
};

enum triage_signal {
	SIG_LIST_UNSUBSCRIBE,
	SIG_LIST_ID,
	SIG_PRECEDENCE_BULK,
	SIG_PRECEDENCE_LIST,
	SIG_AUTO_SUBMITTED,
	SIG_AUTO_REPLY,
	SIG_CAMPAIGN,
	SIG_ESP,
	SIG_NOREPLY,
	SIG_NEWSLETTER_SENDER,
	SIG_CALENDAR,
	SIG_CALENDAR_SUBJECT,
	SIG_IMPORTANT,
	SIG_DIRECT,
	SIG_TO,
	SIG_ONLY_CC,
	SIG_NOT_RECIPIENT,
	SIG_MANY_RECIPIENTS,
	SIG_OWN_DOMAIN,
	SIG_FIRST_TIME,
	SIG_CORRESPONDENT,
	SIG_KNOWN_SENDER,
	SIG_SENDER_LEARNED,
	SIG_DOMAIN_LEARNED,
	SIG_REPLIED_AFTER,
	SIG_YOU_WROTE_LAST,
	SIG_ANSWERED_AFTER,
	SIG_COPIED_REPLY,
	SIG_ANSWERS_YOU,
	SIG_REPLY,
	SIG_QUESTION,
	SIG_REQUEST,
	SIG_DEADLINE,
	SIG_MEETING,
	SIG_UNSUBSCRIBE_TEXT,
	SIG_PROMOTION,
	SIG_AUTOMATED_TEXT,
	SIG_NOTICE_TEXT,
	SIG_FYI_TEXT,
	SIG_THANKS,
	SIG_COUNT
};

/* Each signal's votes, in log-odds units, for the built-in categories in the order of
 * triage_builtin_slugs: to-respond, fyi, comment, notification, meeting-update,
 * awaiting-reply, actioned, marketing. doc/triage.md lists them. */
static const struct triage_sigdef {
	const char *name;
	double w[TRIAGE_BUILTIN];
} triage_sigdefs[SIG_COUNT] = {
	[SIG_LIST_UNSUBSCRIBE] = { "list-unsubscribe", { -0.8, 0, 0, 0.6, 0, 0, 0, 1.4 } },
	[SIG_LIST_ID] = { "list-id", { -0.5, 0.6, 0.3, 0.4, 0, 0, 0, 0 } },
	[SIG_PRECEDENCE_BULK] = { "precedence-bulk", { -1.0, 0, 0, 0.8, 0, 0, 0, 1.0 } },
	[SIG_PRECEDENCE_LIST] = { "precedence-list", { -0.5, 0.5, 0.3, 0.3, 0, 0, 0, 0 } },
	[SIG_AUTO_SUBMITTED] = { "auto-submitted", { -1.5, 0, 0, 2.2, 0, 0, 0, -0.5 } },
	[SIG_AUTO_REPLY] = { "auto-reply", { -1.5, 2.2, 0, 0.5, 0, 0, 0, 0 } },
	[SIG_CAMPAIGN] = { "bulk-sender", { -1.0, 0, 0, 0.3, 0, 0, 0, 1.8 } },
	[SIG_ESP] = { "email-service", { -0.6, 0, 0, 0.6, 0, 0, 0, 0.6 } },
	[SIG_NOREPLY] = { "no-reply", { -1.2, 0, 0, 1.6, 0, 0, 0, 0.2 } },
	[SIG_NEWSLETTER_SENDER] = { "newsletter-sender", { -0.8, 0, 0, 0, 0, 0, 0, 1.2 } },
	[SIG_CALENDAR] = { "calendar", { 0, 0, 0, 0, 4.0, 0, 0, 0 } },
	[SIG_CALENDAR_SUBJECT] = { "calendar-subject", { 0, 0, 0, 0, 2.5, 0, 0, 0 } },
	[SIG_IMPORTANT] = { "importance-high", { 0.4, 0, 0, 0, 0, 0, 0, 0 } },
	[SIG_DIRECT] = { "direct", { 0.3, 0, 0, 0, 0, 0, 0, -0.3 } },
	[SIG_TO] = { "to", { 0.4, 0, -0.3, 0, 0, 0, 0, 0 } },
	[SIG_ONLY_CC] = { "only-cc", { -0.7, 0.8, 0.9, 0, 0, 0, 0, 0 } },
	[SIG_NOT_RECIPIENT] = { "not-recipient", { -0.8, 0.4, 0, 0.3, 0, 0, 0, 0.4 } },
	[SIG_MANY_RECIPIENTS] = { "many-recipients", { -0.4, 0.6, 0.2, 0, 0, 0, 0, 0 } },
	[SIG_OWN_DOMAIN] = { "own-domain", { 0.5, 0.3, 0.2, 0, 0, 0, 0, -0.8 } },
	[SIG_FIRST_TIME] = { "first-time", { -0.2, 0, 0, 0, 0, 0, 0, 0.6 } },
	[SIG_CORRESPONDENT] = { "correspondent", { 1.0, 0.3, 0.2, -0.8, 0, 0, 0, -1.5 } },
	[SIG_KNOWN_SENDER] = { "known-sender", { 0, 0.1, 0, 0, 0, 0, 0, 0 } },
	[SIG_SENDER_LEARNED] = { "sender-learned", { 0 } },
	[SIG_DOMAIN_LEARNED] = { "domain-learned", { 0 } },
	[SIG_REPLIED_AFTER] = { "replied-after", { 0, 0, 0, 0, 0, 0, 5.0, 0 } },
	[SIG_YOU_WROTE_LAST] = { "you-wrote-last", { 0, 0, 0, 0, 0, 5.0, 0, 0 } },
	[SIG_ANSWERED_AFTER] = { "answered-after", { 0, 0, 0, 0, 0, 0, 5.0, 0 } },
	[SIG_COPIED_REPLY] = { "copied-reply", { -0.5, 0.2, 2.0, 0, 0, 0, 0, 0 } },
	[SIG_ANSWERS_YOU] = { "answers-you", { 1.2, 0.2, 0, 0, 0, 0, 0, -1.0 } },
	[SIG_REPLY] = { "reply", { 0.3, 0, 0.2, -0.3, 0, 0, 0, -0.8 } },
	[SIG_QUESTION] = { "question", { 1.6, 0, 0, 0, 0, 0, 0, 0 } },
	[SIG_REQUEST] = { "request", { 1.3, 0, 0, 0, 0, 0, 0, 0 } },
	[SIG_DEADLINE] = { "deadline", { 0.7, 0, 0, 0, 0, 0, 0, 0 } },
	[SIG_MEETING] = { "meeting-words", { 0.2, 0, 0, 0, 1.0, 0, 0, 0 } },
	[SIG_UNSUBSCRIBE_TEXT] = { "unsubscribe-link", { -0.5, 0, 0, 0.3, 0, 0, 0, 1.2 } },
	[SIG_PROMOTION] = { "promotion", { -0.3, 0, 0, 0, 0, 0, 0, 1.2 } },
	[SIG_AUTOMATED_TEXT] = { "automated-text", { -1.0, 0, 0, 1.4, 0, 0, 0, 0.2 } },
	[SIG_NOTICE_TEXT] = { "service-notice", { -0.2, 0, 0, 1.0, 0, 0, 0, 0 } },
	[SIG_FYI_TEXT] = { "fyi-words", { -0.3, 1.2, 0, 0, 0, 0, 0, 0 } },
	[SIG_THANKS] = { "thanks-only", { -0.8, 1.0, 0.3, 0, 0, 0, 0, 0 } },
};

/* Each category's score before any signal: with nothing to go on, a message is FYI;
 * Awaiting reply and Actioned come from the thread's state, not from words. */
static const double triage_bias[TRIAGE_BUILTIN] = { 0, 0.4, 0, 0, 0, -2.0, -2.0, 0 };

struct triage_fired {
	enum triage_signal sig;
	double w[TRIAGE_MAX_CLASSES];
	char text[TRIAGE_REASON_SIZE];
};

struct triage_classifier {
	const struct triage_model *prior;
	struct sb_stemmer *stemmers[TRIAGE_NLANG];
	int stemmer_failed[TRIAGE_NLANG];
	/* The lexicons' words and phrases, made once. */
	struct triage_word *words;
	size_t nwords, capwords;
	int buckets[TRIAGE_WORD_BUCKETS];
	struct triage_phrase *phrases;
	size_t nphrases, capphrases;
	char *lexmem;
	/* Per message, reused: the text, its words and sentences, the features. */
	struct arena *arena;
	char *orig, *low;
	size_t textlen, textcap;
	struct triage_tok *toks;
	size_t ntoks, captoks;
	struct triage_sent sents[TRIAGE_MAX_SENTENCES];
	size_t nsents;
	const char *features[TRIAGE_MAX_FEATURES];
	uint64_t fhash[TRIAGE_MAX_FEATURES];
	size_t nfeatures;
	uint64_t seen[TRIAGE_SEEN_SLOTS];
	struct triage_fired fired[TRIAGE_MAX_SIGNALS];
	size_t nfired;
	int lang;
	/* The first sentence of each lexicon kind found, -1 when none. */
	long lexhit[LEX_COUNT];
	const char *sender, *domain;
	/* The classes of one decision: the built-in ones, then the models' own. */
	char slugs[TRIAGE_MAX_CLASSES][TRIAGE_SLUG_SIZE];
	size_t nclass;
	double *nbfeat;                  /* [feature][class] log-probabilities of the model */
};

/* ---- text ---- */

/* Lower case of the letters mail is mostly written in (Latin, Greek, Cyrillic); every
 * mapping keeps the length of the character's UTF-8 form. */
static uint32_t
triage_lower(uint32_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c + 32;
	if (c < 0xc0)
		return c;
	if ((c >= 0xc0 && c <= 0xde && c != 0xd7))
		return c + 32;
	if (c >= 0x100 && c <= 0x17f && c != 0x130 && c != 0x131 && c != 0x138 &&
	    c != 0x149 && c != 0x17f) {
		/* Latin Extended-A pairs: even upper, odd lower, but for 0x139-0x148 and
		 * 0x179-0x17e where the upper case is odd. */
		if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
			return (c & 1) ? c + 1 : c;
		return (c & 1) ? c : c + 1;
	}
	if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2)
		return c + 32;
	if (c >= 0x410 && c <= 0x42f)
		return c + 32;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	return c;
}

static int
triage_is_letter(uint32_t c)
{
	if (c < 0x80)
		return isalnum((int)c);
	if (c < 0xc0)
		return c == 0xaa || c == 0xb5 || c == 0xba;
	if (c <= 0x24f)
		return c != 0xd7 && c != 0xf7;
	if (c >= 0x2000 && c <= 0x2bff)       /* punctuation, symbols, arrows */
		return 0;
	if (c >= 0x3000 && c <= 0x303f)       /* CJK punctuation */
		return 0;
	if (c >= 0xfe00 && c <= 0xfe6f)
		return 0;
	if (c >= 0x1f000)                     /* emoji and pictographs */
		return 0;
	return c >= 0x370;
}

static void
triage_text_reserve(struct triage_classifier *tc, size_t n)
{
	if (n <= tc->textcap)
		return;
	tc->textcap = n + 4096;
	tc->orig = xreallocarray(tc->orig, tc->textcap, 1);
	tc->low = xreallocarray(tc->low, tc->textcap, 1);
}

static void
triage_text_append(struct triage_classifier *tc, const char *s, size_t n)
{
	triage_text_reserve(tc, tc->textlen + n + 1);
	memcpy(tc->orig + tc->textlen, s, n);
	tc->textlen += n;
	tc->orig[tc->textlen] = '\0';
}

static int
triage_starts_ci(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && strncasecmp(s, prefix, k) == 0;
}

static int
triage_contains_ci(const char *s, size_t n, const char *what)
{
	size_t k = strlen(what);

	for (size_t i = 0; i + k <= n; i++) {
		if (strncasecmp(s + i, what, k) == 0)
			return 1;
	}
	return 0;
}

/* Whether a line starts what the reply quotes or what follows the new text: a quote
 * header ("On ... wrote:", its German, French and Spanish forms), a forwarded or
 * original message's separator, a signature. */
static int
triage_quote_start(const char *s, size_t n)
{
	size_t i = 0;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	if (n == 2 && s[0] == '-' && s[1] == '-')
		return 1;                      /* "-- " signature separator */
	while (i < n && (s[i] == '-' || s[i] == '_' || s[i] == ' '))
		i++;
	if (i >= 10 && i == n)
		return 1;                      /* Outlook's line of underscores */
	if (i >= 4 && (triage_starts_ci(s + i, n - i, "original message") ||
	    triage_starts_ci(s + i, n - i, "ursprüngliche nachricht") ||
	    triage_starts_ci(s + i, n - i, "message d'origine") ||
	    triage_starts_ci(s + i, n - i, "mensaje original")))
		return 1;
	if (n > 0 && s[n - 1] == ':' && n < 300 &&
	    ((triage_starts_ci(s, n, "on ") && triage_contains_ci(s, n, "wrote")) ||
	    (triage_starts_ci(s, n, "am ") && triage_contains_ci(s, n, "schrieb")) ||
	    (triage_starts_ci(s, n, "le ") && triage_contains_ci(s, n, "a écrit")) ||
	    (triage_starts_ci(s, n, "el ") && triage_contains_ci(s, n, "escribió"))))
		return 1;
	return 0;
}

/* The new part of a body into the text: quoted lines ("> ") are skipped, and reading
 * stops at a quote header, a separator or a signature, or after TRIAGE_BODY_BYTES. */
static void
triage_text_body(struct triage_classifier *tc, const char *text)
{
	const char *p = text;
	size_t kept = 0, read = 0;

	while (*p != '\0' && kept < TRIAGE_BODY_BYTES && read < 4 * TRIAGE_BODY_BYTES) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p), i = 0;

		read += n + 1;
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i < n && p[i] == '>') {
			/* quoted */
		} else if (triage_quote_start(p, n)) {
			break;
		} else {
			if (n > TRIAGE_BODY_BYTES - kept)
				n = TRIAGE_BODY_BYTES - kept;
			/* Cut on a character's boundary. */
			while (n > 0 && p + n != nl && ((unsigned char)p[n] & 0xc0) == 0x80)
				n--;
			triage_text_append(tc, p, n);
			triage_text_append(tc, "\n", 1);
			kept += n + 1;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

static int triage_word_find(const struct triage_classifier *tc, const char *s, size_t n,
    uint64_t h);

static void
triage_tok_push(struct triage_classifier *tc, const char *s, size_t n)
{
	struct triage_tok *t;

	if (tc->ntoks == tc->captoks) {
		tc->captoks = tc->captoks == 0 ? 1024 : tc->captoks * 2;
		tc->toks = xreallocarray(tc->toks, tc->captoks, sizeof *tc->toks);
	}
	t = &tc->toks[tc->ntoks++];
	t->s = s;
	t->len = n;
	t->sent = (unsigned)tc->nsents;
	t->word = triage_word_find(tc, s, n, triage_hash(s, n));
}

static void
triage_sent_end(struct triage_classifier *tc, size_t end, int question)
{
	struct triage_sent *st;

	if (tc->nsents == TRIAGE_MAX_SENTENCES - 1)
		return;                        /* the rest is one long last sentence */
	st = &tc->sents[tc->nsents];
	st->end = end;
	st->question = question;
	tc->nsents++;
	tc->sents[tc->nsents].off = end;
	tc->sents[tc->nsents].question = 0;
}

/* Splits tc->orig into lower-case words (tc->low) and sentences. */
static void
triage_tokenize(struct triage_classifier *tc)
{
	const unsigned char *s = (const unsigned char *)tc->orig;
	size_t n = tc->textlen, i = 0, wstart = 0, linestart = 0;
	int inword = 0, prevdigit = 0;
	char prev = '\n';

	tc->ntoks = 0;
	tc->nsents = 0;
	tc->sents[0].off = 0;
	tc->sents[0].question = 0;
	while (i < n) {
		uint32_t cp;
		size_t len = util_utf8_decode(s + i, n - i, &cp);

		if (len == 0) {
			cp = 0xfffd;
			len = 1;
			tc->low[i] = ' ';
		} else if (triage_is_letter(cp)) {
			uint32_t lc = triage_lower(cp);

			if (lc == cp || len == 1) {
				if (len == 1)
					tc->low[i] = (char)lc;
				else
					memcpy(tc->low + i, s + i, len);
			} else {
				/* Two-byte forms only (see triage_lower). */
				tc->low[i] = (char)(0xc0 | (lc >> 6));
				tc->low[i + 1] = (char)(0x80 | (lc & 0x3f));
			}
			if (!inword) {
				inword = 1;
				wstart = i;
			}
			prevdigit = cp < 0x80 && isdigit((int)cp);
			i += len;
			continue;
		} else {
			memcpy(tc->low + i, s + i, len);
		}
		if (inword) {
			triage_tok_push(tc, tc->low + wstart, i - wstart);
			inword = 0;
		}
		if (cp == '%' && prevdigit)
			triage_tok_push(tc, "#pct", 4);
		else if (cp == '$' || cp == 0x20ac || cp == 0xa3)
			triage_tok_push(tc, "#money", 6);
		prevdigit = 0;
		if (cp == '?' || cp == '.' || cp == '!' || cp == ';') {
			/* "e.g." and "3.5" are not ends: the next character must be a space. */
			if (i + 1 >= n || s[i + 1] == ' ' || s[i + 1] == '\n' || s[i + 1] == '\r' ||
			    cp == '?')
				triage_sent_end(tc, i + 1, cp == '?');
		} else if (cp == '\n') {
			/* A blank line, or the end of a greeting ("Hi Anna,") or of a subject. */
			if (prev == '\n' || prev == ',' || prev == ':' || i - linestart < 40)
				triage_sent_end(tc, i, 0);
			linestart = i + 1;
		}
		if (cp != ' ' && cp != '\t' && cp != '\r')
			prev = (char)(cp < 0x80 ? cp : 'x');
		i += len;
	}
	if (inword)
		triage_tok_push(tc, tc->low + wstart, n - wstart);
	tc->sents[tc->nsents].end = n;
	tc->nsents++;
	tc->low[n] = '\0';
}

/* ---- lexicons: words and phrases ---- */

static int
triage_word_find(const struct triage_classifier *tc, const char *s, size_t n, uint64_t h)
{
	for (int i = tc->buckets[h & (TRIAGE_WORD_BUCKETS - 1)]; i >= 0; i = tc->words[i].next) {
		if (tc->words[i].h == h && strncmp(tc->words[i].s, s, n) == 0 &&
		    tc->words[i].s[n] == '\0')
			return i;
	}
	return -1;
}

static int
triage_word_add(struct triage_classifier *tc, const char *s)
{
	size_t n = strlen(s);
	uint64_t h = triage_hash(s, n);
	int i = triage_word_find(tc, s, n, h);
	struct triage_word *w;

	if (i >= 0)
		return i;
	if (tc->nwords == tc->capwords) {
		tc->capwords = tc->capwords == 0 ? 512 : tc->capwords * 2;
		tc->words = xreallocarray(tc->words, tc->capwords, sizeof *tc->words);
	}
	i = (int)tc->nwords++;
	w = &tc->words[i];
	w->s = s;
	w->h = h;
	w->stop = 0;
	w->single = 0;
	w->phrases = -1;
	w->next = tc->buckets[h & (TRIAGE_WORD_BUCKETS - 1)];
	tc->buckets[h & (TRIAGE_WORD_BUCKETS - 1)] = i;
	return i;
}

/* Splits src (lower case) into words with the tokenizer's rule, into mem (NUL-separated
 * words); returns how many, at most max, their starts in w. */
static size_t
triage_split(const char *src, size_t srclen, char *mem, const char **w, size_t max)
{
	size_t i = 0, n = 0, o = 0;
	int inword = 0, prevdigit = 0;

	while (i < srclen) {
		uint32_t cp;
		size_t len = util_utf8_decode((const unsigned char *)src + i, srclen - i, &cp);

		if (len == 0)
			len = 1, cp = ' ';
		if (triage_is_letter(cp)) {
			if (!inword && n < max)
				w[n++] = mem + o;
			inword = 1;
			memcpy(mem + o, src + i, len);
			o += len;
			prevdigit = cp < 0x80 && isdigit((int)cp);
		} else {
			if (inword)
				mem[o++] = '\0';
			inword = 0;
			if (src[i] == '#' && n < max) {
				/* A pseudo word of the lexicons: "#pct", "#money". */
				size_t k = 1;

				while (i + k < srclen && isalpha((unsigned char)src[i + k]))
					k++;
				w[n++] = mem + o;
				memcpy(mem + o, src + i, k);
				o += k;
				mem[o++] = '\0';
				len = k;
			}
			(void)prevdigit;
			prevdigit = 0;
		}
		i += len;
	}
	if (inword)
		mem[o++] = '\0';
	return n;
}

static void
triage_lexicon_build(struct triage_classifier *tc)
{
	size_t total = 0, o = 0;

	for (int i = 0; i < TRIAGE_WORD_BUCKETS; i++)
		tc->buckets[i] = -1;
	for (size_t k = 0; k < LEX_COUNT; k++)
		total += strlen(triage_lex_src[k]) * 2 + 2;
	for (size_t l = 0; l < TRIAGE_NLANG; l++)
		total += strlen(triage_languages[l].words) * 2 + 2;
	tc->lexmem = xmalloc(total);

	for (size_t l = 0; l < TRIAGE_NLANG; l++) {
		const char *w[128];
		size_t n = triage_split(triage_languages[l].words,
		    strlen(triage_languages[l].words), tc->lexmem + o, w, 128);

		o += strlen(triage_languages[l].words) * 2 + 2;
		for (size_t j = 0; j < n; j++) {
			int k = triage_word_add(tc, w[j]);    /* may move tc->words */

			tc->words[k].stop |= 1u << l;
		}
	}
	for (size_t k = 0; k < LEX_COUNT; k++) {
		const char *src = triage_lex_src[k];

		while (*src != '\0') {
			const char *bar = strchr(src, '|');
			size_t len = bar != NULL ? (size_t)(bar - src) : strlen(src);
			const char *w[TRIAGE_PHRASE_WORDS];
			size_t n = triage_split(src, len, tc->lexmem + o, w, TRIAGE_PHRASE_WORDS);
			struct triage_phrase *ph;
			int first;

			o += len * 2 + 2;
			src += len + (bar != NULL);
			if (n == 0)
				continue;
			first = triage_word_add(tc, w[0]);
			if (n == 1) {
				tc->words[first].single |= 1u << k;
				continue;
			}
			for (size_t j = 1; j < n; j++)
				triage_word_add(tc, w[j]);
			if (tc->nphrases == tc->capphrases) {
				tc->capphrases = tc->capphrases == 0 ? 256 : tc->capphrases * 2;
				tc->phrases = xreallocarray(tc->phrases, tc->capphrases,
				    sizeof *tc->phrases);
			}
			ph = &tc->phrases[tc->nphrases];
			ph->kind = (enum triage_lex)k;
			ph->n = n;
			memcpy(ph->w, w, n * sizeof w[0]);
			ph->next = tc->words[first].phrases;
			tc->words[first].phrases = (int)tc->nphrases++;
		}
	}
}

/* Finds the lexicons' phrases in the words: tc->lexhit[kind] is the sentence of the
 * first match of each kind. */
static void
triage_lexicon_scan(struct triage_classifier *tc)
{
	for (size_t k = 0; k < LEX_COUNT; k++)
		tc->lexhit[k] = -1;
	for (size_t i = 0; i < tc->ntoks; i++) {
		const struct triage_tok *t = &tc->toks[i];
		const struct triage_word *w;

		if (t->word < 0)
			continue;
		w = &tc->words[t->word];
		for (size_t k = 0; k < LEX_COUNT; k++) {
			if ((w->single & (1u << k)) && tc->lexhit[k] < 0 && k != LEX_YOU &&
			    k != LEX_ASK)
				tc->lexhit[k] = t->sent;
		}
		for (int p = w->phrases; p >= 0; p = tc->phrases[p].next) {
			const struct triage_phrase *ph = &tc->phrases[p];
			size_t j;

			if (tc->lexhit[ph->kind] >= 0 || i + ph->n > tc->ntoks)
				continue;
			for (j = 1; j < ph->n; j++) {
				const struct triage_tok *u = &tc->toks[i + j];

				if (u->len != strlen(ph->w[j]) || memcmp(u->s, ph->w[j], u->len) != 0)
					break;
			}
			if (j == ph->n)
				tc->lexhit[ph->kind] = t->sent;
		}
	}
}

/* The language of the words: the one with the most stop words among the first 400;
 * English when none has any. */
static int
triage_detect_language(const struct triage_classifier *tc)
{
	unsigned count[TRIAGE_NLANG] = { 0 };
	int best = 0;

	for (size_t i = 0; i < tc->ntoks && i < 400; i++) {
		const struct triage_tok *t = &tc->toks[i];

		if (t->word < 0)
			continue;
		for (size_t l = 0; l < TRIAGE_NLANG; l++) {
			if (tc->words[t->word].stop & (1u << l))
				count[l]++;
		}
	}
	for (size_t l = 1; l < TRIAGE_NLANG; l++) {
		if (count[l] > count[best])
			best = (int)l;
	}
	return best;
}

const char *
triage_language(struct triage_classifier *tc, const char *text, size_t len)
{
	tc->textlen = 0;
	triage_text_reserve(tc, len + 1);
	triage_text_append(tc, text, len);
	triage_tokenize(tc);
	return triage_languages[triage_detect_language(tc)].stemmer;
}

/* ---- the classifier's life ---- */

struct triage_classifier *
triage_classifier_new(const struct triage_model *prior)
{
	struct triage_classifier *tc = xcalloc(1, sizeof *tc);

	tc->prior = prior;
	tc->arena = arena_new(32768);
	tc->nbfeat = xcalloc((size_t)TRIAGE_MAX_FEATURES * TRIAGE_MAX_CLASSES,
	    sizeof *tc->nbfeat);
	triage_lexicon_build(tc);
	return tc;
}

void
triage_classifier_free(struct triage_classifier *tc)
{
	if (tc == NULL)
		return;
	for (size_t l = 0; l < TRIAGE_NLANG; l++) {
		if (tc->stemmers[l] != NULL)
			sb_stemmer_delete(tc->stemmers[l]);
	}
	arena_free(tc->arena);
	free(tc->nbfeat);
	free(tc->words);
	free(tc->phrases);
	free(tc->lexmem);
	free(tc->orig);
	free(tc->low);
	free(tc->toks);
	free(tc);
}

/* ---- messages ---- */

void
triage_message_from_mime(struct triage_message *m, const struct mime_message *mm,
    const char *const *self)
{
	memset(m, 0, sizeof *m);
	m->from = mm->from;
	m->to = mm->to;
	m->cc = mm->cc;
	m->reply_to = mm->reply_to;
	m->subject = mm->subject != NULL ? mm->subject : "";
	m->text = mm->text != NULL ? mm->text : "";
	m->headers = mm->headers;
	m->calendar_method = mm->calendar_method;
	m->is_reply = mm->in_reply_to != NULL || mm->n_references > 0;
	m->has_attachments = mm->n_attachments > 0;
	for (size_t i = 0; self != NULL && m->from.n > 0 && self[i] != NULL; i++) {
		if (strcasecmp(self[i], m->from.v[0].address) == 0)
			m->sent = 1;
	}
}

const char *
triage_calendar_method(const char *ics, char *out, size_t outlen)
{
	const char *p = ics;

	while (p != NULL && *p != '\0') {
		if (strncasecmp(p, "METHOD:", 7) == 0) {
			size_t n = 0;

			p += 7;
			while (n + 1 < outlen && isalpha((unsigned char)p[n])) {
				out[n] = (char)toupper((unsigned char)p[n]);
				n++;
			}
			out[n] = '\0';
			return n > 0 ? out : NULL;
		}
		/* Only the calendar's own properties, before its first component. */
		if (strncasecmp(p, "BEGIN:V", 7) == 0 && strncasecmp(p, "BEGIN:VCALENDAR", 15) != 0)
			return NULL;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

static const char *
triage_header(const struct triage_message *m, const char *name)
{
	json_t *v = m->headers != NULL ? json_object_get(m->headers, name) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
triage_is_self(const struct triage_context *ctx, const char *addr)
{
	for (size_t i = 0; ctx->self != NULL && ctx->self[i] != NULL; i++) {
		if (strcasecmp(ctx->self[i], addr) == 0)
			return 1;
	}
	return 0;
}

static int
triage_list_has_self(const struct triage_context *ctx, const struct mime_address_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (triage_is_self(ctx, l->v[i].address))
			return 1;
	}
	return 0;
}

static const char *
triage_domain_of(const char *addr)
{
	const char *at = addr != NULL ? strrchr(addr, '@') : NULL;

	return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

/* Public mail services: a shared domain there says nothing about being colleagues. */
static int
triage_public_domain(const char *d)
{
	static const char *const pub[] = {
		"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com",
		"yahoo.com", "icloud.com", "me.com", "aol.com", "gmx.de", "gmx.net", "web.de",
		"t-online.de", "orange.fr", "free.fr", "laposte.net", "protonmail.com",
		"proton.me", "fastmail.com", "yandex.ru", "mail.ru", "example.com",
	};

	for (size_t i = 0; i < MR_ARRAY_LEN(pub); i++) {
		if (strcasecmp(d, pub[i]) == 0)
			return 1;
	}
	return 0;
}

/* ---- signals ---- */

static struct triage_fired *
triage_fire(struct triage_classifier *tc, enum triage_signal sig, const char *fmt, ...)
    MR_PRINTF(3, 4);

static struct triage_fired *
triage_fire(struct triage_classifier *tc, enum triage_signal sig, const char *fmt, ...)
{
	struct triage_fired *f;
	va_list ap;

	for (size_t i = 0; i < tc->nfired; i++) {
		if (tc->fired[i].sig == sig)
			return &tc->fired[i];
	}
	if (tc->nfired == TRIAGE_MAX_SIGNALS)
		return NULL;
	f = &tc->fired[tc->nfired++];
	f->sig = sig;
	memset(f->w, 0, sizeof f->w);
	for (int k = 0; k < TRIAGE_BUILTIN; k++)
		f->w[k] = triage_sigdefs[sig].w[k];
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof f->text, fmt, ap);
	va_end(ap);
	return f;
}

/* s cut to at most max bytes on a character's boundary, into out (with "…" when cut),
 * control characters as spaces, runs of white space as one. */
static const char *
triage_quote(char *out, size_t outlen, const char *s, size_t n, size_t max)
{
	size_t o = 0, i = 0;
	int space = 1;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' ||
	    s[n - 1] == '\t'))
		n--;
	while (i < n && o + 4 < outlen && o < max) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == ' ') {
			if (!space)
				out[o++] = ' ';
			space = 1;
			i++;
			continue;
		}
		space = 0;
		out[o++] = (char)c;
		i++;
	}
	/* Back to a character's boundary. */
	while (o > 0 && i < n && ((unsigned char)s[i] & 0xc0) == 0x80) {
		o--;
		i--;
		while (o > 0 && ((unsigned char)out[o] & 0xc0) == 0x80) {
			o--;
			i--;
		}
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	if (i < n && o + 4 <= outlen) {
		memcpy(out + o, "\xe2\x80\xa6", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

/* A sentence of the text, quoted for a reason. */
static const char *
triage_sentence(const struct triage_classifier *tc, size_t sent, char *out, size_t outlen)
{
	const struct triage_sent *s = &tc->sents[sent];
	size_t off = s->off;

	while (off < s->end && (tc->orig[off] == ' ' || tc->orig[off] == '\n' ||
	    tc->orig[off] == '\r' || tc->orig[off] == '\t'))
		off++;
	return triage_quote(out, outlen, tc->orig + off, s->end - off, TRIAGE_QUOTE_BYTES);
}

/* Whether sentence k addresses the reader with a question: it ends with "?" and has a
 * second-person word or starts with a question word. */
static int
triage_question_in(const struct triage_classifier *tc, size_t *sent)
{
	size_t i = 0;

	while (i < tc->ntoks) {
		size_t k = tc->toks[i].sent, j;
		int you = 0, ask = 0;

		for (j = i; j < tc->ntoks && tc->toks[j].sent == k; j++) {
			int w = tc->toks[j].word;

			if (w < 0)
				continue;
			if (tc->words[w].single & (1u << LEX_YOU))
				you = 1;
			if (j == i && (tc->words[w].single & (1u << LEX_ASK)))
				ask = 1;
		}
		if (k < tc->nsents && tc->sents[k].question && (you || ask) && j - i >= 2) {
			*sent = k;
			return 1;
		}
		i = j;
	}
	return 0;
}

static const char *
triage_local_kind(const char *addr, int *marketing)
{
	static const char *const notify[] = {
		"noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply",
		"notifications", "notification", "notify", "alerts", "alert", "mailer-daemon",
		"postmaster", "bounce", "bounces", "automated", "system", "robot", "daemon",
	};
	static const char *const market[] = {
		"newsletter", "newsletters", "news", "marketing", "offers", "offer", "promo",
		"promotions", "deals", "mailing", "campaign", "campaigns", "angebote", "info-news",
	};
	const char *at = strchr(addr, '@');
	size_t n = at != NULL ? (size_t)(at - addr) : strlen(addr);

	for (size_t i = 0; i < MR_ARRAY_LEN(notify); i++) {
		size_t k = strlen(notify[i]);

		/* "noreply", "noreply+x", "bounces-123" */
		if (n >= k && strncasecmp(addr, notify[i], k) == 0 &&
		    (n == k || !isalpha((unsigned char)addr[k]))) {
			*marketing = 0;
			return notify[i];
		}
	}
	for (size_t i = 0; i < MR_ARRAY_LEN(market); i++) {
		size_t k = strlen(market[i]);

		if (n == k && strncasecmp(addr, market[i], k) == 0) {
			*marketing = 1;
			return market[i];
		}
	}
	return NULL;
}

static const char *
triage_class_name(const struct triage_classifier *tc, size_t k)
{
	return k < TRIAGE_BUILTIN ? triage_builtin_names[k] : tc->slugs[k];
}

static void
triage_header_signals(struct triage_classifier *tc, const struct triage_message *m)
{
	static const char *const campaign[] = {
		"X-Campaign", "X-Campaign-Id", "X-CampaignID", "X-Mailchimp-Campaign",
	};
	static const char *const mass_mailers[] = {
		"mailchimp", "sendinblue", "brevo", "hubspot", "mailjet", "sendgrid",
		"campaign monitor", "klaviyo", "constant contact", "mailerlite", "newsletter",
		"acoustic", "salesforce marketing", "marketo", "substack", "cleverreach",
		"rapidmail", "phplist", "mautic",
	};
	static const char *const esp[] = { "Feedback-ID", "X-SES-Outgoing", "X-Mailgun-Tag" };
	char q[TRIAGE_REASON_SIZE];
	const char *v;

	if ((v = triage_header(m, "List-Unsubscribe")) != NULL)
		triage_fire(tc, SIG_LIST_UNSUBSCRIBE,
		    "List-Unsubscribe header: sent to a mailing list or subscribers");
	if ((v = triage_header(m, "List-Id")) != NULL)
		triage_fire(tc, SIG_LIST_ID, "List-Id header: sent through the list %s",
		    triage_quote(q, sizeof q, v, strlen(v), 60));
	if ((v = triage_header(m, "Precedence")) != NULL) {
		while (*v == ' ')
			v++;
		if (strncasecmp(v, "bulk", 4) == 0 || strncasecmp(v, "junk", 4) == 0)
			triage_fire(tc, SIG_PRECEDENCE_BULK, "Precedence: %.4s: mass mail", v);
		else if (strncasecmp(v, "list", 4) == 0)
			triage_fire(tc, SIG_PRECEDENCE_LIST, "Precedence: list: a mailing list");
	}
	if ((v = triage_header(m, "Auto-Submitted")) != NULL) {
		while (*v == ' ')
			v++;
		if (strncasecmp(v, "auto-replied", 12) == 0)
			triage_fire(tc, SIG_AUTO_REPLY, "Auto-Submitted: auto-replied: an automatic "
			    "reply");
		else if (strncasecmp(v, "no", 2) != 0 || isalpha((unsigned char)v[2]))
			triage_fire(tc, SIG_AUTO_SUBMITTED, "Auto-Submitted: %s: sent by a program",
			    triage_quote(q, sizeof q, v, strlen(v), 30));
	}
	if (triage_header(m, "X-Autoreply") != NULL || triage_header(m, "X-Autorespond") != NULL ||
	    ((v = triage_header(m, "X-MS-Exchange-Organization-AutoReplyType")) != NULL) ||
	    triage_starts_ci(m->subject, strlen(m->subject), "automatic reply") ||
	    triage_starts_ci(m->subject, strlen(m->subject), "out of office") ||
	    triage_starts_ci(m->subject, strlen(m->subject), "abwesenheitsnotiz") ||
	    triage_starts_ci(m->subject, strlen(m->subject), "automatische antwort") ||
	    triage_starts_ci(m->subject, strlen(m->subject), "réponse automatique") ||
	    triage_starts_ci(m->subject, strlen(m->subject), "respuesta automática"))
		triage_fire(tc, SIG_AUTO_REPLY, "An automatic reply (out of office)");
	for (size_t i = 0; i < MR_ARRAY_LEN(campaign); i++) {
		if (triage_header(m, campaign[i]) != NULL) {
			triage_fire(tc, SIG_CAMPAIGN, "%s header: sent by a mass-mailing service",
			    campaign[i]);
			break;
		}
	}
	if ((v = triage_header(m, "X-Mailer")) != NULL) {
		for (size_t i = 0; i < MR_ARRAY_LEN(mass_mailers); i++) {
			if (triage_contains_ci(v, strlen(v), mass_mailers[i])) {
				triage_fire(tc, SIG_CAMPAIGN, "X-Mailer: %s: a mass-mailing tool",
				    triage_quote(q, sizeof q, v, strlen(v), 40));
				break;
			}
		}
	}
	for (size_t i = 0; i < MR_ARRAY_LEN(esp); i++) {
		if (triage_header(m, esp[i]) != NULL) {
			triage_fire(tc, SIG_ESP, "%s header: sent through a bulk email service",
			    esp[i]);
			break;
		}
	}
	if ((v = triage_header(m, "Importance")) != NULL && strncasecmp(v, "high", 4) == 0)
		triage_fire(tc, SIG_IMPORTANT, "Marked as important");
	else if ((v = triage_header(m, "X-Priority")) != NULL && (*v == '1' || *v == '2'))
		triage_fire(tc, SIG_IMPORTANT, "Marked as important");
	if (m->from.n > 0) {
		int marketing = 0;
		const char *kind = triage_local_kind(m->from.v[0].address, &marketing);

		if (kind != NULL && !marketing)
			triage_fire(tc, SIG_NOREPLY, "Sent from a no-reply address (%s)",
			    triage_quote(q, sizeof q, m->from.v[0].address,
			    strlen(m->from.v[0].address), 80));
		else if (kind != NULL)
			triage_fire(tc, SIG_NEWSLETTER_SENDER, "The sender's address is a "
			    "newsletter's (%s)", triage_quote(q, sizeof q, m->from.v[0].address,
			    strlen(m->from.v[0].address), 80));
	}
}

static void
triage_calendar_signals(struct triage_classifier *tc, const struct triage_message *m)
{
	static const char *const prefixes[] = {
		"invitation:", "updated invitation:", "accepted:", "declined:", "tentative:",
		"tentatively accepted:", "canceled event:", "cancelled event:", "canceled:",
		"cancelled:", "new event:", "updated event:", "einladung:",
		"aktualisierte einladung:", "angenommen:", "abgelehnt:", "mit vorbehalt:",
		"abgesagt:", "abgesagtes ereignis:", "invitation :", "invitation mise à jour :",
		"accepté :", "accepté:", "refusé :", "refusé:", "annulé :", "annulé:",
		"invitación:", "invitación actualizada:", "aceptado:", "rechazado:",
		"cancelado:", "evento cancelado:",
	};
	const char *meth = m->calendar_method;
	const char *subj = m->subject;

	if (meth != NULL) {
		if (strcmp(meth, "REQUEST") == 0)
			triage_fire(tc, SIG_CALENDAR, "Calendar invitation (METHOD:REQUEST)");
		else if (strcmp(meth, "CANCEL") == 0)
			triage_fire(tc, SIG_CALENDAR, "Meeting cancelled (METHOD:CANCEL)");
		else if (strcmp(meth, "REPLY") == 0)
			triage_fire(tc, SIG_CALENDAR, "An answer to an invitation (METHOD:REPLY)");
		else if (strcmp(meth, "COUNTER") == 0)
			triage_fire(tc, SIG_CALENDAR, "A new time proposed (METHOD:COUNTER)");
		else
			triage_fire(tc, SIG_CALENDAR, "Calendar data (METHOD:%.20s)", meth);
	}
	for (size_t i = 0; i < MR_ARRAY_LEN(prefixes); i++) {
		if (triage_starts_ci(subj, strlen(subj), prefixes[i]) ||
		    (strncmp(prefixes[i], "é", 2) != 0 && strlen(subj) > strlen(prefixes[i]) &&
		    strncmp(tc->low, prefixes[i], strlen(prefixes[i])) == 0)) {
			char q[TRIAGE_REASON_SIZE];

			triage_fire(tc, SIG_CALENDAR_SUBJECT, "The subject is a calendar's: '%s'",
			    triage_quote(q, sizeof q, subj, strlen(subj), 60));
			break;
		}
	}
}

static void
triage_relation_signals(struct triage_classifier *tc, const struct triage_message *m,
    const struct triage_context *ctx)
{
	size_t people = m->to.n + m->cc.n;
	int in_to, in_cc;
	const char *d;

	if (people > 10)
		triage_fire(tc, SIG_MANY_RECIPIENTS, "Sent to %zu people", people);
	if (m->is_reply)
		triage_fire(tc, SIG_REPLY, "A reply in a conversation");
	if (ctx->self == NULL || ctx->self[0] == NULL || m->sent)
		return;
	in_to = triage_list_has_self(ctx, &m->to);
	in_cc = triage_list_has_self(ctx, &m->cc);
	if (in_to && m->to.n <= 3 && m->cc.n <= 5)
		triage_fire(tc, SIG_DIRECT, "Sent to you directly");
	else if (in_to)
		triage_fire(tc, SIG_TO, "You are in To");
	else if (in_cc)
		triage_fire(tc, SIG_ONLY_CC, "You are only in Cc");
	else
		triage_fire(tc, SIG_NOT_RECIPIENT, "You are not in To or Cc (Bcc or a list)");
	if (m->is_reply && !in_to && triage_header(m, "List-Id") == NULL)
		triage_fire(tc, SIG_COPIED_REPLY, "A reply in a thread you are only copied on");
	d = tc->domain;
	if (d != NULL && !triage_public_domain(d)) {
		for (size_t i = 0; ctx->self[i] != NULL; i++) {
			const char *sd = triage_domain_of(ctx->self[i]);

			if (sd != NULL && strcasecmp(sd, d) == 0) {
				triage_fire(tc, SIG_OWN_DOMAIN, "From your own domain (%.80s)", d);
				break;
			}
		}
	}
}

static void
triage_history_signals(struct triage_classifier *tc, const struct triage_message *m,
    const struct triage_context *ctx)
{
	if (m->sent)
		return;
	if (ctx->history) {
		if (ctx->to_sender > 0)
			triage_fire(tc, SIG_CORRESPONDENT, "You have written to this sender before "
			    "(%ld time%s)", ctx->to_sender, ctx->to_sender == 1 ? "" : "s");
		else if (ctx->from_sender == 0)
			triage_fire(tc, SIG_FIRST_TIME, "First message from this sender");
		else
			triage_fire(tc, SIG_KNOWN_SENDER, "You have had %ld message%s from this "
			    "sender", ctx->from_sender, ctx->from_sender == 1 ? "" : "s");
	}
	if (ctx->thread && ctx->answers_user)
		triage_fire(tc, SIG_ANSWERS_YOU, "Answers your message");
}

/* The user's corrections of this sender's (and domain's) mail, from their model. */
static void
triage_learned_signals(struct triage_classifier *tc, const struct triage_context *ctx)
{
	const struct triage_model *um = ctx->user_model;
	char name[TRIAGE_FEATURE_SIZE];
	const struct triage_entry *se = NULL, *de = NULL;

	if (um == NULL || tc->sender == NULL)
		return;
	snprintf(name, sizeof name, "s:%s", tc->sender);
	se = triage_model_lookup(um, name, triage_hash(name, strlen(name)));
	if (tc->domain != NULL && !triage_public_domain(tc->domain)) {
		snprintf(name, sizeof name, "d:%s", tc->domain);
		de = triage_model_lookup(um, name, triage_hash(name, strlen(name)));
	}
	for (size_t k = 0; k < tc->nclass; k++) {
		int uk = triage_model_find_class(um, tc->slugs[k]);
		double n = uk >= 0 ? triage_entry_count(se, uk) : 0;
		double dn = uk >= 0 ? triage_entry_count(de, uk) : 0;
		struct triage_fired *f;

		if (n >= 0.5) {
			f = triage_fire(tc, SIG_SENDER_LEARNED, "You moved %.0f message%s from this "
			    "sender to %s", n, n < 1.5 ? "" : "s", triage_class_name(tc, k));
			if (f != NULL && f->w[k] == 0)
				f->w[k] = fmin(4.0 + (n - 1), 7.0);
		} else if (dn >= 0.5) {
			f = triage_fire(tc, SIG_DOMAIN_LEARNED, "You moved %.0f message%s from %.80s "
			    "to %s", dn, dn < 1.5 ? "" : "s", tc->domain, triage_class_name(tc, k));
			if (f != NULL && f->w[k] == 0)
				f->w[k] = fmin(1.5 + 0.5 * (dn - 1), 3.0);
		}
	}
}

/* The signals a phrase of the lexicons fires, and what their reasons say before the
 * sentence they quote. */
static const struct {
	enum triage_lex lex;
	enum triage_signal sig;
	const char *says;
} triage_lex_signals[] = {
	{ LEX_REQUEST, SIG_REQUEST, "Asks you to do something" },
	{ LEX_DEADLINE, SIG_DEADLINE, "Mentions a deadline" },
	{ LEX_MEETING, SIG_MEETING, "Talks about a meeting" },
	{ LEX_UNSUBSCRIBE, SIG_UNSUBSCRIBE_TEXT, "Has an unsubscribe link" },
	{ LEX_PROMOTION, SIG_PROMOTION, "Promotional wording" },
	{ LEX_AUTOMATED, SIG_AUTOMATED_TEXT, "Says it was sent automatically" },
	{ LEX_NOTICE, SIG_NOTICE_TEXT, "Reads like a service's notice" },
	{ LEX_FYI, SIG_FYI_TEXT, "Says it is for your information" },
};

static void
triage_content_signals(struct triage_classifier *tc, const struct triage_message *m)
{
	char q[TRIAGE_REASON_SIZE];
	size_t sent, body_words = 0;

	if (m->sent)
		return;
	if (triage_question_in(tc, &sent))
		triage_fire(tc, SIG_QUESTION, "Asks you a question: '%s'",
		    triage_sentence(tc, sent, q, sizeof q));
	for (size_t i = 0; i < MR_ARRAY_LEN(triage_lex_signals); i++) {
		long k = tc->lexhit[triage_lex_signals[i].lex];

		if (k >= 0)
			triage_fire(tc, triage_lex_signals[i].sig, "%s: '%s'",
			    triage_lex_signals[i].says, triage_sentence(tc, (size_t)k, q, sizeof q));
	}
	/* Thanks and little else: nothing to answer. */
	for (size_t i = 0; i < tc->ntoks; i++) {
		if (tc->toks[i].sent > 0)
			body_words++;
	}
	if (tc->lexhit[LEX_THANKS] >= 0 && body_words <= 25 && tc->lexhit[LEX_REQUEST] < 0 &&
	    !triage_question_in(tc, &sent))
		triage_fire(tc, SIG_THANKS, "Only says thanks: '%s'",
		    triage_sentence(tc, (size_t)tc->lexhit[LEX_THANKS], q, sizeof q));
}

/* Thread state: what the user did after the message decides. */
static void
triage_thread_signals(struct triage_classifier *tc, const struct triage_message *m,
    const struct triage_context *ctx)
{
	if (m->sent) {
		if (ctx->thread && ctx->answered_after)
			triage_fire(tc, SIG_ANSWERED_AFTER, "You sent it and have been answered since");
		else
			triage_fire(tc, SIG_YOU_WROTE_LAST, "You sent the last message of this "
			    "thread");
		return;
	}
	if (ctx->thread && ctx->user_replied_after)
		triage_fire(tc, SIG_REPLIED_AFTER, "You replied after this message");
}

/* ---- features and the model ---- */

static const char *
triage_stem(struct triage_classifier *tc, const char *s, size_t n, size_t *outlen)
{
	struct sb_stemmer *st;
	const sb_symbol *r;

	if (tc->stemmer_failed[tc->lang])
		return NULL;
	if ((st = tc->stemmers[tc->lang]) == NULL) {
		st = sb_stemmer_new(triage_languages[tc->lang].stemmer, "UTF_8");
		if (st == NULL) {
			tc->stemmer_failed[tc->lang] = 1;
			return NULL;
		}
		tc->stemmers[tc->lang] = st;
	}
	r = sb_stemmer_stem(st, (const sb_symbol *)s, (int)n);
	if (r == NULL)
		return NULL;
	*outlen = (size_t)sb_stemmer_length(st);
	return (const char *)r;
}

/* Adds a feature when it is new for this message. */
static void
triage_feature_add(struct triage_classifier *tc, const char *prefix, const char *s, size_t n)
{
	size_t plen = strlen(prefix), i;
	char *f;
	uint64_t h;

	if (tc->nfeatures == TRIAGE_MAX_FEATURES || n == 0 || plen + n >= TRIAGE_FEATURE_SIZE)
		return;
	f = arena_alloc(tc->arena, plen + n + 1);
	memcpy(f, prefix, plen);
	memcpy(f + plen, s, n);
	f[plen + n] = '\0';
	/* Features are one field of the model's text: no white space or control bytes. */
	for (char *p = f + plen; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ')
			*p = '_';
	}
	h = triage_hash(f, plen + n);
	for (i = h & (TRIAGE_SEEN_SLOTS - 1); tc->seen[i] != 0; i = (i + 1) &
	    (TRIAGE_SEEN_SLOTS - 1)) {
		if (tc->seen[i] == h)
			return;
	}
	tc->seen[i] = h;
	tc->fhash[tc->nfeatures] = h;
	tc->features[tc->nfeatures++] = f;
}

static void
triage_word_features(struct triage_classifier *tc)
{
	size_t words = 0;

	for (size_t i = 0; i < tc->ntoks && words < TRIAGE_MAX_TOKENS; i++) {
		const struct triage_tok *t = &tc->toks[i];
		const char *stem;
		size_t slen;
		int digits = 1;

		if (t->len < 2 || t->len > TRIAGE_TOKEN_MAX ||
		    (t->word >= 0 && tc->words[t->word].stop != 0))
			continue;
		for (size_t j = 0; j < t->len; j++) {
			if (!isdigit((unsigned char)t->s[j]))
				digits = 0;
		}
		if (digits)
			continue;
		if (t->s[0] == '#' || (stem = triage_stem(tc, t->s, t->len, &slen)) == NULL) {
			stem = t->s;
			slen = t->len;
		}
		triage_feature_add(tc, "w:", stem, slen);
		words++;
	}
}

/* Everything but the model: the text, its words, the signals and the features. */
static void
triage_prepare(struct triage_classifier *tc, const struct triage_message *m,
    const struct triage_context *ctx)
{
	static const struct triage_context none;
	const struct triage_model *um;
	const char *subject = m->subject != NULL ? m->subject : "";

	if (ctx == NULL)
		ctx = &none;
	um = ctx->user_model;
	arena_reset(tc->arena);
	memset(tc->seen, 0, sizeof tc->seen);
	tc->nfeatures = 0;
	tc->nfired = 0;
	tc->textlen = 0;
	tc->sender = tc->domain = NULL;

	/* The classes: the built-in ones, then any other a model knows. */
	for (size_t k = 0; k < TRIAGE_BUILTIN; k++)
		snprintf(tc->slugs[k], TRIAGE_SLUG_SIZE, "%s", triage_builtin_slugs[k]);
	tc->nclass = TRIAGE_BUILTIN;
	for (int pass = 0; pass < 2; pass++) {
		const struct triage_model *mm = pass == 0 ? tc->prior : um;

		for (size_t k = 0; mm != NULL && k < mm->nclass; k++) {
			size_t j;

			for (j = 0; j < tc->nclass && strcmp(tc->slugs[j], mm->slug[k]) != 0; j++)
				;
			if (j == tc->nclass && tc->nclass < TRIAGE_MAX_CLASSES && mm->docs[k] > 0)
				snprintf(tc->slugs[tc->nclass++], TRIAGE_SLUG_SIZE, "%s", mm->slug[k]);
		}
	}

	if (m->from.n > 0 && m->from.v[0].address != NULL && *m->from.v[0].address != '\0') {
		char *s = arena_strdup(tc->arena, m->from.v[0].address);

		for (char *p = s; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		tc->sender = s;
		tc->domain = triage_domain_of(s);
	}

	/* The subject is the first sentence, then the new part of the body. */
	triage_text_reserve(tc, strlen(subject) + 8);
	triage_text_append(tc, subject, strlen(subject) < 998 ? strlen(subject) : 998);
	triage_text_append(tc, "\n\n", 2);
	triage_text_body(tc, m->text != NULL ? m->text : "");
	triage_tokenize(tc);
	tc->lang = triage_detect_language(tc);
	triage_lexicon_scan(tc);

	triage_thread_signals(tc, m, ctx);
	triage_calendar_signals(tc, m);
	triage_header_signals(tc, m);
	triage_relation_signals(tc, m, ctx);
	triage_history_signals(tc, m, ctx);
	triage_content_signals(tc, m);
	triage_learned_signals(tc, ctx);

	/* Features: the sender, the signals (but the learned ones: the sender is there
	 * already), then the words. */
	if (tc->sender != NULL) {
		triage_feature_add(tc, "s:", tc->sender, strlen(tc->sender));
		if (tc->domain != NULL)
			triage_feature_add(tc, "d:", tc->domain, strlen(tc->domain));
	}
	for (size_t i = 0; i < tc->nfired; i++) {
		const char *name = triage_sigdefs[tc->fired[i].sig].name;

		if (tc->fired[i].sig != SIG_SENDER_LEARNED && tc->fired[i].sig != SIG_DOMAIN_LEARNED)
			triage_feature_add(tc, "f:", name, strlen(name));
	}
	triage_word_features(tc);
}

size_t
triage_features(struct triage_classifier *tc, const struct triage_message *m,
    const struct triage_context *ctx, const char ***features)
{
	triage_prepare(tc, m, ctx);
	*features = tc->features;
	return tc->nfeatures;
}

/* The model's log-posterior per class into lp (tempered, floored, scaled by
 * TRIAGE_NB_GAIN); 0 everywhere when it knows none of the features. */
static size_t
triage_bayes(struct triage_classifier *tc, const struct triage_model *um, double *lp)
{
	const struct triage_model *pm = tc->prior;
	int pk[TRIAGE_MAX_CLASSES], uk[TRIAGE_MAX_CLASSES], ok[TRIAGE_MAX_CLASSES];
	double D[TRIAGE_MAX_CLASSES], Dtot = 0, raw[TRIAGE_MAX_CLASSES], mx = -HUGE_VAL, sum = 0;
	size_t K = tc->nclass, seen = 0, nok = 0;

	for (size_t k = 0; k < K; k++) {
		lp[k] = 0;
		raw[k] = 0;
		pk[k] = pm != NULL ? triage_model_find_class(pm, tc->slugs[k]) : -1;
		uk[k] = um != NULL ? triage_model_find_class(um, tc->slugs[k]) : -1;
		/* Awaiting reply and Actioned are the thread's state, not words: the prior
		 * does not speak for them, only the user's own corrections do. */
		if (k == TRIAGE_AWAITING_REPLY || k == TRIAGE_ACTIONED)
			pk[k] = -1;
		D[k] = (pk[k] >= 0 ? pm->docs[pk[k]] : 0) +
		    (uk[k] >= 0 ? TRIAGE_USER_WEIGHT * um->docs[uk[k]] : 0);
		ok[k] = D[k] > 0;
		if (ok[k]) {
			Dtot += D[k];
			nok++;
		}
	}
	if (nok < 2)
		return 0;
	for (size_t i = 0; i < tc->nfeatures; i++) {
		const struct triage_entry *pe = pm != NULL ?
		    triage_model_lookup(pm, tc->features[i], tc->fhash[i]) : NULL;
		const struct triage_entry *ue = um != NULL ?
		    triage_model_lookup(um, tc->features[i], tc->fhash[i]) : NULL;
		double N[TRIAGE_MAX_CLASSES], Nf = 0, bg;
		double *row = tc->nbfeat + seen * TRIAGE_MAX_CLASSES;

		if (pe == NULL && ue == NULL)
			continue;
		for (size_t k = 0; k < K; k++) {
			N[k] = 0;
			if (!ok[k])
				continue;
			N[k] = (pk[k] >= 0 ? triage_entry_count(pe, pk[k]) : 0) +
			    (uk[k] >= 0 ? TRIAGE_USER_WEIGHT * triage_entry_count(ue, uk[k]) : 0);
			if (N[k] < 0)
				N[k] = 0;
			Nf += N[k];
		}
		/* A word of one document says more of that document than of its class. */
		if (Nf < TRIAGE_MIN_DOCS)
			continue;
		bg = fmin(fmax(Nf / Dtot, 1e-6), 0.999);
		for (size_t k = 0; k < K; k++) {
			if (!ok[k])
				continue;
			row[k] = log((N[k] + TRIAGE_SMOOTH) / (D[k] + 2 * TRIAGE_SMOOTH)) - log(bg);
			raw[k] += row[k];
		}
		/* Remember which feature the row is, for the reasons. */
		row[K < TRIAGE_MAX_CLASSES ? K : TRIAGE_MAX_CLASSES - 1] = (double)i;
		seen++;
	}
	if (seen == 0)
		return 0;
	{
		double T = 1.0 + (double)seen / 20.0, floor = 0;

		for (size_t k = 0; k < K; k++) {
			if (!ok[k])
				continue;
			raw[k] = (raw[k] + 0.5 * log(D[k] / Dtot)) / T;
			if (raw[k] > mx)
				mx = raw[k];
		}
		for (size_t k = 0; k < K; k++) {
			if (ok[k])
				sum += exp(raw[k] - mx);
		}
		for (size_t k = 0; k < K; k++) {
			if (!ok[k])
				continue;
			lp[k] = fmax(raw[k] - mx - log(sum), TRIAGE_NB_FLOOR) * TRIAGE_NB_GAIN;
			if (lp[k] < floor)
				floor = lp[k];
		}
		for (size_t k = 0; k < K; k++) {
			if (!ok[k])
				lp[k] = floor;
		}
	}
	return seen;
}

/* The words that most favour class w over the runner-up r, for a reason. */
static void
triage_bayes_reason(struct triage_classifier *tc, size_t seen, size_t w, size_t r,
    char *out, size_t outlen)
{
	size_t K = tc->nclass, best[3] = { 0, 0, 0 }, nbest = 0, o = 0;
	double score[3] = { 0, 0, 0 };

	if (K >= TRIAGE_MAX_CLASSES)
		K = TRIAGE_MAX_CLASSES - 1;
	for (size_t i = 0; i < seen; i++) {
		const double *row = tc->nbfeat + i * TRIAGE_MAX_CLASSES;
		size_t fi = (size_t)row[K];
		double d = row[w] - row[r];
		size_t j;

		if (d <= 0.3 || strncmp(tc->features[fi], "w:", 2) != 0)
			continue;
		for (j = nbest; j > 0 && score[j - 1] < d; j--) {
			if (j < 3) {
				score[j] = score[j - 1];
				best[j] = best[j - 1];
			}
		}
		if (j < 3) {
			score[j] = d;
			best[j] = fi;
			if (nbest < 3)
				nbest++;
		}
	}
	if (nbest == 0) {
		snprintf(out, outlen, "Like the messages you and others filed under %s",
		    triage_class_name(tc, w));
		return;
	}
	o = (size_t)snprintf(out, outlen, "Words like ");
	for (size_t j = 0; j < nbest && o < outlen; j++)
		o += (size_t)snprintf(out + o, outlen - o, "%s'%s'", j == 0 ? "" :
		    j + 1 == nbest ? " and " : ", ", tc->features[best[j]] + 2);
	if (o < outlen)
		snprintf(out + o, outlen - o, " are typical of %s", triage_class_name(tc, w));
}

static void
triage_reason_add(struct triage_decision *d, const char *signal, double weight,
    const char *text)
{
	struct triage_reason *r;
	size_t i;

	if (d->n_reasons == TRIAGE_MAX_REASONS)
		return;
	/* Kept sorted by weight, the first come first among equals. */
	for (i = d->n_reasons; i > 0 && d->reasons[i - 1].weight < weight; i--)
		d->reasons[i] = d->reasons[i - 1];
	r = &d->reasons[i];
	snprintf(r->text, sizeof r->text, "%s", text);
	r->signal = signal;
	r->weight = weight;
	d->n_reasons++;
}

void
triage_classify(struct triage_classifier *tc, const struct triage_message *m,
    const struct triage_context *ctx, struct triage_decision *out)
{
	static const struct triage_context none;
	double score[TRIAGE_MAX_CLASSES] = { 0 }, lp[TRIAGE_MAX_CLASSES], mx, sum = 0;
	size_t K, win = TRIAGE_FYI, second = TRIAGE_TO_RESPOND, seen;
	int strong = -1;
	char text[TRIAGE_REASON_SIZE];

	if (ctx == NULL)
		ctx = &none;
	memset(out, 0, sizeof *out);
	triage_prepare(tc, m, ctx);
	K = tc->nclass;
	seen = triage_bayes(tc, ctx->user_model, lp);

	for (size_t k = 0; k < K; k++) {
		score[k] = (k < TRIAGE_BUILTIN ? triage_bias[k] : 0) + lp[k];
		for (size_t i = 0; i < tc->nfired; i++)
			score[k] += tc->fired[i].w[k];
	}
	/* Thread state and calendar parts decide by themselves. */
	for (size_t i = 0; i < tc->nfired && strong < 0; i++) {
		switch (tc->fired[i].sig) {
		case SIG_REPLIED_AFTER:
		case SIG_ANSWERED_AFTER:
			strong = TRIAGE_ACTIONED;
			break;
		case SIG_YOU_WROTE_LAST:
			strong = TRIAGE_AWAITING_REPLY;
			break;
		case SIG_CALENDAR:
			strong = TRIAGE_MEETING_UPDATE;
			break;
		default:
			break;
		}
	}
	if (strong >= 0) {
		win = (size_t)strong;
	} else {
		win = 0;
		for (size_t k = 1; k < K; k++) {
			if (score[k] > score[win])
				win = k;
		}
	}
	mx = score[win];
	for (size_t k = 0; k < K; k++) {
		sum += exp(fmin(score[k] - mx, 0));
		if (k != win && (second == win || score[k] > score[second]))
			second = k;
	}
	snprintf(out->category, sizeof out->category, "%s", tc->slugs[win]);
	out->source = TRIAGE_SOURCE_CLASSIFIER;
	/* Only a rule, the user's choice for a sender or their correction is certain. */
	out->confidence = fmin(strong >= 0 ? fmax(TRIAGE_STRONG_CONFIDENCE, 1.0 / sum) :
	    1.0 / sum, TRIAGE_MAX_CONFIDENCE);
	out->first_time_sender = ctx->history && ctx->to_sender == 0 && ctx->from_sender == 0 &&
	    !m->sent;
	out->outreach = exp(fmin(score[TRIAGE_MARKETING] - mx, 0)) / sum;

	for (size_t i = 0; i < tc->nfired; i++) {
		const struct triage_fired *f = &tc->fired[i];

		if (f->w[win] >= 0.3)
			triage_reason_add(out, triage_sigdefs[f->sig].name, f->w[win], f->text);
	}
	if (seen > 0 && lp[win] - lp[second] >= 0.3) {
		triage_bayes_reason(tc, seen, win, second, text, sizeof text);
		triage_reason_add(out, "model", lp[win] - lp[second], text);
	}
	if (out->n_reasons == 0) {
		if (win == TRIAGE_FYI)
			snprintf(text, sizeof text, "Nothing asks anything of you: FYI by default");
		else
			snprintf(text, sizeof text, "No strong sign: %s fits best",
			    triage_class_name(tc, win));
		triage_reason_add(out, "default", 0, text);
	}
}

json_t *
triage_reasons_json(const struct triage_decision *d)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < d->n_reasons; i++)
		json_array_append_new(a, json_string(d->reasons[i].text));
	return a;
}
