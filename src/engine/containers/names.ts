/**
 * Container names: docker's rules (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`, stored as "/name") and docker-like random
 * names "adjective_surname" (moby pkg/namesgenerator; a subset of its word lists).
 */
import { randomInt } from "node:crypto";
import { EngineError } from "../../lib/errors.ts";

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** "x" or "/x" → "x"; invalid names throw docker's error */
export function validateName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new EngineError("invalid_argument", `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return name.replace(/^\//, "");
}

const LEFT = [
  "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful", "blissful",
  "bold", "brave", "busy", "charming", "clever", "compassionate", "competent", "condescending", "confident",
  "cool", "cranky", "crazy", "dazzling", "determined", "distracted", "dreamy", "eager", "ecstatic", "elastic",
  "elated", "elegant", "eloquent", "epic", "exciting", "fervent", "festive", "flamboyant", "focused", "friendly",
  "frosty", "funny", "gallant", "gifted", "goofy", "gracious", "great", "happy", "hardcore", "heuristic",
  "hopeful", "hungry", "infallible", "inspiring", "intelligent", "interesting", "jolly", "jovial", "keen",
  "kind", "laughing", "loving", "lucid", "magical", "modest", "musing", "mystifying", "naughty", "nervous",
  "nice", "nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic", "pensive", "practical",
  "priceless", "quirky", "quizzical", "recursing", "relaxed", "reverent", "romantic", "sad", "serene", "sharp",
  "silly", "sleepy", "stoic", "strange", "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting",
  "unruffled", "upbeat", "vibrant", "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful",
  "zealous", "zen",
];

const RIGHT = [
  "agnesi", "albattani", "allen", "archimedes", "ardinghelli", "babbage", "banach", "bardeen", "bartik",
  "bassi", "bell", "benz", "bhabha", "black", "blackwell", "bohr", "booth", "borg", "bose", "brahmagupta",
  "brattain", "brown", "carson", "cerf", "chandrasekhar", "chaplygin", "chatelet", "cohen", "cori", "cray",
  "curie", "darwin", "davinci", "dijkstra", "dirac", "driscoll", "dubinsky", "easley", "einstein", "elion",
  "engelbart", "euclid", "euler", "fermat", "fermi", "feynman", "franklin", "galileo", "gates", "goldberg",
  "goldstine", "goldwasser", "goodall", "hamilton", "hawking", "heisenberg", "hellman", "hermann", "hodgkin",
  "hoover", "hopper", "hypatia", "jackson", "jennings", "johnson", "kalam", "kepler", "khorana", "knuth",
  "kowalevski", "lalande", "lamarr", "lamport", "leakey", "lederberg", "lehmann", "lewin", "liskov",
  "lovelace", "lumiere", "mahavira", "margulis", "matsumoto", "maxwell", "mayer", "mccarthy", "mclean",
  "meitner", "mendel", "merkle", "mirzakhani", "montalcini", "moore", "morse", "napier", "nash", "neumann",
  "newton", "nobel", "noether", "northcutt", "noyce", "panini", "pascal", "pasteur", "payne", "perlman",
  "pike", "poincare", "ptolemy", "raman", "ramanujan", "ride", "ritchie", "roentgen", "rosalind", "saha",
  "sammet", "shamir", "shannon", "shaw", "shockley", "sinoussi", "snyder", "spence", "stonebraker",
  "sutherland", "swanson", "swartz", "tesla", "thompson", "torvalds", "turing", "varahamihira", "visvesvaraya",
  "volhard", "wescoff", "wilbur", "wiles", "williams", "wilson", "wing", "wozniak", "wright", "yalow", "yonath",
];

/** a docker-style random name; `retry` > 0 appends a digit as moby does after a collision */
export function randomName(retry = 0): string {
  for (;;) {
    const name = `${LEFT[randomInt(LEFT.length)]}_${RIGHT[randomInt(RIGHT.length)]}`;
    if (name === "boring_wozniak") continue; // Steve Wozniak is not boring (moby's one exception)
    return retry > 0 ? `${name}${randomInt(10)}` : name;
  }
}
