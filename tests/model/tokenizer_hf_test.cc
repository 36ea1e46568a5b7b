// Hugging Face tokenizer.json (BPE) against ids recorded once from the
// reference implementation, Hugging Face's JavaScript port
// @huggingface/tokenizers 0.2.0 (`new Tokenizer(tokenizer.json,
// tokenizer_config.json).encode(text).ids`), on the real tokenizers in
// ../shared/models/tokenizers. The llama2 tokenizer.json ids also equal
// python3-sentencepiece's on its tokenizer.model (see
// tokenizer_sentencepiece_test.cc), which the tests below cross-check.
#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "model/hf_tokenizer.h"
#include "model/hf_tokenizer_split.h"
#include "model/sentencepiece.h"
#include "model/tokenizer.h"
#include "model/tokenizer_config.h"
#include "model/unicode.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace qgrid::model {
namespace {

// Where the reference's decode differed from the text only because it
// applies transformers' clean_up_tokenization_spaces (" ." -> "."), which
// qgrid's Decode does not, `decoded` is nullptr (exact round trip).
struct HfCase {
  const char* name;
  const char* text;
  std::vector<int> ids;
  // Decode(ids) as the reference gives it; nullptr: the text itself.
  const char* decoded;
};

const HfCase kLlama2JsonCases[] = {
    {"plain", "Hello world", {1, 15043, 3186}, nullptr},
    {"spaces",
     "  leading and trailing spaces  ",
     {1, 259, 8236, 322, 25053, 8162, 259},
     nullptr},
    {"whitespace",
     "multiple   spaces\tand\ttabs\nnew\n\nlines\n",
     {1, 2999, 259, 8162, 12, 392, 12, 21175, 13, 1482, 13, 13, 9012, 13},
     nullptr},
    {"digits",
     "The year 2024 had 365 days; pi is 3.14159 and 1234567890.",
     {1,     450,   1629,  29871, 29906, 29900, 29906, 29946, 750,   29871,
      29941, 29953, 29945, 3841,  29936, 2930,  338,   29871, 29941, 29889,
      29896, 29946, 29896, 29945, 29929, 322,   29871, 29896, 29906, 29941,
      29946, 29945, 29953, 29955, 29947, 29929, 29900, 29889},
     nullptr},
    {"contractions",
     "It's what they're doing, isn't it? We'll see, I'd say.",
     {1,     739,   29915, 29879, 825,   896,   29915, 276,   2599,
      29892, 3508,  29915, 29873, 372,   29973, 1334,  29915, 645,
      1074,  29892, 306,   29915, 29881, 1827,  29889},
     nullptr},
    {"punct",
     "Punctuation!?... (brackets) [x] {y} \"quotes\" -- dashes & co.",
     {1,    349,   18049, 29884, 362,   29991, 29973, 856,   313, 2634,
      9737, 29897, 518,   29916, 29962, 426,   29891, 29913, 376, 339,
      4769, 29908, 1192,  12569, 267,   669,   1302,  29889},
     nullptr},
    {"latin",
     "Caf\xc3\xa9 au lait, na\xc3\xafve fa\xc3\xa7"
     "ade, Stra\xc3\x9f"
     "e, \xc3\x89"
     "cole",
     {1, 315, 28059, 782, 425, 277, 29892, 1055, 30085, 345, 2258, 30019, 1943,
      29892, 22667, 29892, 3067, 10936},
     nullptr},
    {"chinese",
     "\xe6\x9c\xba\xe5\x99\xa8\xe5\xad\xa6\xe4\xb9\xa0\xe6\x98\xaf\xe4\xba\xba"
     "\xe5\xb7\xa5\xe6\x99\xba\xe8\x83\xbd\xe7\x9a\x84\xe4\xb8\x80\xe4\xb8\xaa"
     "\xe5\x88\x86\xe6\x94\xaf\xe3\x80\x82",
     {1, 29871, 31429, 30943, 30415, 231, 188, 163, 30392, 30313, 31041, 31676,
      30815, 30210, 30287, 30502, 30748, 31541, 30267},
     nullptr},
    {"japanese",
     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad"
     "\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82\xe3\x82\xab"
     "\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a",
     {1, 29871, 30325, 30346, 30968, 30199, 30572, 30454, 30255, 30279, 30499,
      30427, 30267, 30439, 30369, 30439, 30576},
     nullptr},
    {"emoji",
     "Emoji: \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd family "
     "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7"
     "\xe2\x80\x8d\xf0\x9f\x91\xa6 done",
     {1,   2812, 29877, 2397,  29901, 29871, 243,   162,   148,
      144, 243,  162,   146,   192,   3942,  29871, 243,   162,
      148, 171,  30722, 243,   162,   148,   172,   30722, 243,
      162, 148,  170,   30722, 243,   162,   148,   169,   2309},
     nullptr},
    {"empty", "", {1}, nullptr},
    {"special_in_text",
     "<s>Hello</s> world",
     {1, 1, 10994, 829, 29879, 29958, 3186},
     "Hello</s> world"},
    {"special_mid",
     "Hi <s> there</s>",
     {1, 6324, 1, 727, 829, 29879, 29958},
     "Hi there</s>"},
};

const HfCase kGpt2Cases[] = {
    {"plain", "Hello world", {15496, 995}, nullptr},
    {"spaces",
     "  leading and trailing spaces  ",
     {220, 3756, 290, 25462, 9029, 220, 220},
     nullptr},
    {"whitespace",
     "multiple   spaces\tand\ttabs\nnew\n\nlines\n",
     {48101, 220, 220, 9029, 197, 392, 197, 8658, 82, 198, 3605, 198, 198, 6615,
      198},
     nullptr},
    {"digits",
     "The year 2024 had 365 days; pi is 3.14159 and 1234567890.",
     {464, 614, 48609, 550, 21268, 1528, 26, 31028, 318, 513, 13, 1415, 19707,
      290, 17031, 2231, 30924, 3829, 13},
     nullptr},
    {"contractions",
     "It's what they're doing, isn't it? We'll see, I'd say.",
     {1026, 338, 644, 484, 821, 1804, 11, 2125, 470, 340, 30, 775, 1183, 766,
      11, 314, 1549, 910, 13},
     nullptr},
    {"punct",
     "Punctuation!?... (brackets) [x] {y} \"quotes\" -- dashes & co.",
     {47, 16260, 2288, 22857, 986,  357, 1671, 25180, 8,    685,  87,  60, 1391,
      88, 92,    366,  421,   6421, 1,   1377, 288,   7465, 1222, 763, 13},
     nullptr},
    {"latin",
     "Caf\xc3\xa9 au lait, na\xc3\xafve fa\xc3\xa7"
     "ade, Stra\xc3\x9f"
     "e, \xc3\x89"
     "cole",
     {34, 1878, 2634, 35851, 300, 4548, 11, 41492, 24685, 16175, 671, 11, 15195,
      39683, 68, 11, 43052, 1073, 293},
     nullptr},
    {"chinese",
     "\xe6\x9c\xba\xe5\x99\xa8\xe5\xad\xa6\xe4\xb9\xa0\xe6\x98\xaf\xe4\xba\xba"
     "\xe5\xb7\xa5\xe6\x99\xba\xe8\x83\xbd\xe7\x9a\x84\xe4\xb8\x80\xe4\xb8\xaa"
     "\xe5\x88\x86\xe6\x94\xaf\xe3\x80\x82",
     {17312, 118,   161,   247, 101, 27764, 99,    20046, 254,   42468,
      21689, 32432, 98,    162, 247, 118,   47797, 121,   21410, 31660,
      10310, 103,   26344, 228, 162, 242,   107,   16764},
     nullptr},
    {"japanese",
     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad"
     "\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82\xe3\x82\xab"
     "\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a",
     {33768, 98, 17312, 105, 45739, 252, 5641, 24336, 25084, 43302, 30640,
      33623, 16764, 21763, 23376, 21763, 26229},
     nullptr},
    {"emoji",
     "Emoji: \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd family "
     "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7"
     "\xe2\x80\x8d\xf0\x9f\x91\xa6 done",
     {36,    5908,  7285, 25,  50169, 235,   8582, 237, 121,
      1641,  50169, 101,  447, 235,   41840, 102,  447, 235,
      41840, 100,   447,  235, 41840, 99,    1760},
     nullptr},
    {"empty", "", {}, nullptr},
    {"special_in_text",
     "Hello<|endoftext|>world",
     {15496, 50256, 6894},
     "Helloworld"},
    {"special_spaced", " <|endoftext|> x", {220, 50256, 2124}, "  x"},
};

const HfCase kSmolLm2Cases[] = {
    {"plain", "Hello world", {19556, 905}, nullptr},
    {"spaces",
     "  leading and trailing spaces  ",
     {216, 2899, 284, 35079, 5600, 256},
     nullptr},
    {"whitespace",
     "multiple   spaces\tand\ttabs\nnew\n\nlines\n",
     {30404, 256, 5600, 197, 397, 197, 100, 7366, 198, 2241, 198, 198, 5110,
      198},
     nullptr},
    {"digits",
     "The year 2024 had 365 days; pi is 3.14159 and 1234567890.",
     {504, 713,   216, 34,  32, 34, 36, 761, 216, 35, 38, 37,  2009,
      43,  16916, 314, 216, 35, 30, 33, 36,  33,  37, 41, 284, 216,
      33,  34,    35,  36,  37, 38, 39, 40,  41,  32, 30},
     nullptr},
    {"contractions",
     "It's what they're doing, isn't it? We'll see, I'd say.",
     {1589, 506, 732, 502, 2316, 2567, 28, 3247, 982, 357, 47, 1046, 3060, 963,
      28, 339, 6737, 1643, 30},
     nullptr},
    {"punct",
     "Punctuation!?... (brackets) [x] {y} \"quotes\" -- dashes & co.",
     {64,   8859, 6584, 17,   47,  2026, 365,  6838, 936,
      1175, 25,   933,  104,  77,  1662, 105,  109,  476,
      385,  2346, 18,   3009, 287, 9604, 1456, 857,  30},
     nullptr},
    {"latin",
     "Caf\xc3\xa9 au lait, na\xc3\xafve fa\xc3\xa7"
     "ade, Stra\xc3\x9f"
     "e, \xc3\x89"
     "cole",
     {51, 1939, 2756, 26261, 2618, 269, 28, 15486, 46494, 40852, 28, 19144,
      34878, 85, 28, 28239, 83, 1747},
     nullptr},
    {"chinese",
     "\xe6\x9c\xba\xe5\x99\xa8\xe5\xad\xa6\xe4\xb9\xa0\xe6\x98\xaf\xe4\xba\xba"
     "\xe5\xb7\xa5\xe6\x99\xba\xe8\x83\xbd\xe7\x9a\x84\xe4\xb8\x80\xe4\xb8\xaa"
     "\xe5\x88\x86\xe6\x94\xaf\xe3\x80\x82",
     {14483, 135,   176,   243,   118,   18753, 116,  27948,
      250,   27830, 40249, 36149, 115,   177,   243,  135,
      47093, 11567, 43340, 37349, 36694, 124,   19076},
     nullptr},
    {"japanese",
     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad"
     "\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82\xe3\x82\xab"
     "\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a",
     {23274, 115,   40993, 179,   120,   248,   26453, 11100, 224,
      10391, 251,   10391, 134,   11100, 226,   7365,  117,   39958,
      19076, 10391, 121,   10391, 140,   10391, 121,   11100, 228},
     nullptr},
    {"emoji",
     "Emoji: \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd family "
     "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7"
     "\xe2\x80\x8d\xf0\x9f\x91\xa6 done",
     {10809, 33777, 42,  15107, 235, 231,   10813, 233, 138, 1564,
      15107, 235,   118, 321,   231, 10813, 235,   119, 321, 231,
      10813, 235,   117, 321,   231, 10813, 235,   116, 2294},
     nullptr},
    {"empty", "", {}, nullptr},
    {"special_in_text",
     "<|im_start|>user\nHi there<|im_end|>\n",
     {1, 4093, 198, 26843, 665, 2, 198},
     "user\nHi there\n"},
};

const HfCase kMistralCases[] = {
    {"plain", "Hello world", {1, 23325, 2294}, nullptr},
    {"spaces",
     "  leading and trailing spaces  ",
     {1, 29473, 6142, 1072, 27934, 11367, 1027},
     " leading and trailing spaces  "},
    {"whitespace",
     "multiple   spaces\tand\ttabs\nnew\n\nlines\n",
     {1, 5934, 1027, 11367, 780, 1159, 780, 25624, 781, 1863, 781, 781, 8831,
      781},
     nullptr},
    {"digits",
     "The year 2024 had 365 days; pi is 3.14159 and 1234567890.",
     {1,     1183,  1647,  29473, 29518, 29502, 29518, 29549, 1321,  29473,
      29538, 29552, 29550, 2970,  29513, 6316,  1117,  29473, 29538, 29491,
      29508, 29549, 29508, 29550, 29542, 1072,  29473, 29508, 29518, 29538,
      29549, 29550, 29552, 29555, 29551, 29542, 29502, 29491},
     nullptr},
    {"contractions",
     "It's what they're doing, isn't it? We'll see, I'd say.",
     {1,     1429,  29510, 29481, 1535,  1358,  29510, 1035,  3316,
      29493, 3925,  29510, 29475, 1146,  29572, 1584,  29510, 1352,
      1800,  29493, 1083,  29510, 29483, 2083,  29491},
     nullptr},
    {"punct",
     "Punctuation!?... (brackets) [x] {y} \"quotes\" -- dashes & co.",
     {1,    1135,  18949, 10991, 29576, 29572, 1869,  1093,  2241, 1236,
      2236, 29499, 1501,  29512, 29561, 1139,  29492, 29520, 1113, 1132,
      5537, 29507, 2707,  3614,  2821,  1335,  1769,  29491},
     nullptr},
    {"latin",
     "Caf\xc3\xa9 au lait, na\xc3\xafve fa\xc3\xa7"
     "ade, Stra\xc3\x9f"
     "e, \xc3\x89"
     "cole",
     {1, 1102, 2783, 29565, 3273, 1311, 1047, 29493, 2647, 29688, 1101, 24268,
      1538, 29493, 13128, 10294, 29493, 5694, 18741},
     nullptr},
    {"chinese",
     "\xe6\x9c\xba\xe5\x99\xa8\xe5\xad\xa6\xe4\xb9\xa0\xe6\x98\xaf\xe4\xba\xba"
     "\xe5\xb7\xa5\xe6\x99\xba\xe8\x83\xbd\xe7\x9a\x84\xe4\xb8\x80\xe4\xb8\xaa"
     "\xe5\x88\x86\xe6\x94\xaf\xe3\x80\x82",
     {1, 29473, 30131, 29948, 30268, 31746, 29739, 29854, 30255, 31650, 29852,
      29682, 29286, 29830, 30196, 29712},
     nullptr},
    {"japanese",
     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad"
     "\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82\xe3\x82\xab"
     "\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a",
     {1, 29473, 29910, 29887, 31089, 29761, 30378, 30521, 29877, 29891, 29998,
      29894, 29712, 30413, 30109, 30413, 30849},
     nullptr},
    {"emoji",
     "Emoji: \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd family "
     "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7"
     "\xe2\x80\x8d\xf0\x9f\x91\xa6 done",
     {1,   3697, 28581, 29515, 29473, 30963, 31775, 2773, 29473, 1011,
      930, 916,  939,   30042, 1011,  930,   916,   940,  30042, 1011,
      930, 916,  938,   30042, 1011,  930,   916,   937,  2971},
     nullptr},
    {"empty", "", {1}, nullptr},
    {"special_in_text",
     "[INST] What is 2+2? [/INST]",
     {1, 3, 2592, 1117, 29473, 29518, 29574, 29518, 29572, 29473, 4},
     "What is 2+2? "},
    {"special_bos", "<s>[INST]Hi[/INST]</s>", {1, 1, 3, 24577, 4, 2}, "Hi"},
};

const HfCase kGpt2Llama3SplitCases[] = {
    {"plain", "Hello world", {15496, 995}, nullptr},
    {"spaces",
     "  leading and trailing spaces  ",
     {220, 3756, 290, 25462, 9029, 220, 220},
     nullptr},
    {"whitespace",
     "multiple   spaces\tand\ttabs\nnew\n\nlines\n",
     {48101, 220, 220, 9029, 197, 392, 197, 8658, 82, 198, 3605, 628, 6615,
      198},
     nullptr},
    {"digits",
     "The year 2024 had 365 days; pi is 3.14159 and 1234567890.",
     {464, 614, 220, 19004, 19,   550, 220, 24760, 1528,  26,    31028, 318,
      220, 18,  13,  23756, 3270, 290, 220, 10163, 29228, 40401, 15,    13},
     nullptr},
    {"contractions",
     "It's what they're doing, isn't it? We'll see, I'd say.",
     {1026, 338, 644, 484, 821, 1804, 11, 2125, 470, 340, 30, 775, 1183, 766,
      11, 314, 1549, 910, 13},
     nullptr},
    {"punct",
     "Punctuation!?... (brackets) [x] {y} \"quotes\" -- dashes & co.",
     {47, 16260, 2288, 22857, 986,  357, 1671, 25180, 8,    685,  87,  60, 1391,
      88, 92,    366,  421,   6421, 1,   1377, 288,   7465, 1222, 763, 13},
     nullptr},
    {"latin",
     "Caf\xc3\xa9 au lait, na\xc3\xafve fa\xc3\xa7"
     "ade, Stra\xc3\x9f"
     "e, \xc3\x89"
     "cole",
     {34, 1878, 2634, 35851, 300, 4548, 11, 41492, 24685, 16175, 671, 11, 15195,
      39683, 68, 11, 43052, 1073, 293},
     nullptr},
    {"chinese",
     "\xe6\x9c\xba\xe5\x99\xa8\xe5\xad\xa6\xe4\xb9\xa0\xe6\x98\xaf\xe4\xba\xba"
     "\xe5\xb7\xa5\xe6\x99\xba\xe8\x83\xbd\xe7\x9a\x84\xe4\xb8\x80\xe4\xb8\xaa"
     "\xe5\x88\x86\xe6\x94\xaf\xe3\x80\x82",
     {17312, 118,   161,   247, 101, 27764, 99,    20046, 254,   42468,
      21689, 32432, 98,    162, 247, 118,   47797, 121,   21410, 31660,
      10310, 103,   26344, 228, 162, 242,   107,   16764},
     nullptr},
    {"japanese",
     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad"
     "\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82\xe3\x82\xab"
     "\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a",
     {33768, 98, 17312, 105, 45739, 252, 5641, 24336, 25084, 43302, 30640,
      33623, 16764, 21763, 23376, 21763, 26229},
     nullptr},
    {"emoji",
     "Emoji: \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd family "
     "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7"
     "\xe2\x80\x8d\xf0\x9f\x91\xa6 done",
     {36,    5908,  7285, 25,  50169, 235,   8582, 237, 121,
      1641,  50169, 101,  447, 235,   41840, 102,  447, 235,
      41840, 100,   447,  235, 41840, 99,    1760},
     nullptr},
    {"empty", "", {}, nullptr},
    {"llama3_regex",
     "Hello   world!!\n\n  It'S 12345 CAN'T\t\tx\x0d\n?? ...\n",
     {15496, 220,   220, 995, 3228, 628, 220, 632, 6,   50,   220,  10163,
      2231,  15628, 6,   51,  197,  197, 87,  201, 198, 3548, 2644, 198},
     nullptr},
};

const HfCase kGpt2Qwen2SplitCases[] = {
    {"plain", "Hello world", {15496, 995}, nullptr},
    {"spaces",
     "  leading and trailing spaces  ",
     {220, 3756, 290, 25462, 9029, 220, 220},
     nullptr},
    {"whitespace",
     "multiple   spaces\tand\ttabs\nnew\n\nlines\n",
     {48101, 220, 220, 9029, 197, 392, 197, 8658, 82, 198, 3605, 628, 6615,
      198},
     nullptr},
    {"digits",
     "The year 2024 had 365 days; pi is 3.14159 and 1234567890.",
     {464, 614,   220, 17,  15, 17, 19, 550, 220, 18, 21, 20,  1528,
      26,  31028, 318, 220, 18, 13, 16, 19,  16,  20, 24, 290, 220,
      16,  17,    18,  19,  20, 21, 22, 23,  24,  15, 13},
     nullptr},
    {"contractions",
     "It's what they're doing, isn't it? We'll see, I'd say.",
     {1026, 338, 644, 484, 821, 1804, 11, 2125, 470, 340, 30, 775, 1183, 766,
      11, 314, 1549, 910, 13},
     nullptr},
    {"punct",
     "Punctuation!?... (brackets) [x] {y} \"quotes\" -- dashes & co.",
     {47, 16260, 2288, 22857, 986,  357, 1671, 25180, 8,    685,  87,  60, 1391,
      88, 92,    366,  421,   6421, 1,   1377, 288,   7465, 1222, 763, 13},
     nullptr},
    {"latin",
     "Caf\xc3\xa9 au lait, na\xc3\xafve fa\xc3\xa7"
     "ade, Stra\xc3\x9f"
     "e, \xc3\x89"
     "cole",
     {34, 1878, 2634, 35851, 300, 4548, 11, 41492, 24685, 16175, 671, 11, 15195,
      39683, 68, 11, 43052, 1073, 293},
     nullptr},
    {"chinese",
     "\xe6\x9c\xba\xe5\x99\xa8\xe5\xad\xa6\xe4\xb9\xa0\xe6\x98\xaf\xe4\xba\xba"
     "\xe5\xb7\xa5\xe6\x99\xba\xe8\x83\xbd\xe7\x9a\x84\xe4\xb8\x80\xe4\xb8\xaa"
     "\xe5\x88\x86\xe6\x94\xaf\xe3\x80\x82",
     {17312, 118,   161,   247, 101, 27764, 99,    20046, 254,   42468,
      21689, 32432, 98,    162, 247, 118,   47797, 121,   21410, 31660,
      10310, 103,   26344, 228, 162, 242,   107,   16764},
     nullptr},
    {"japanese",
     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad"
     "\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82\xe3\x82\xab"
     "\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a",
     {33768, 98, 17312, 105, 45739, 252, 5641, 24336, 25084, 43302, 30640,
      33623, 16764, 21763, 23376, 21763, 26229},
     nullptr},
    {"emoji",
     "Emoji: \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd family "
     "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7"
     "\xe2\x80\x8d\xf0\x9f\x91\xa6 done",
     {36,    5908,  7285, 25,  50169, 235,   8582, 237, 121,
      1641,  50169, 101,  447, 235,   41840, 102,  447, 235,
      41840, 100,   447,  235, 41840, 99,    1760},
     nullptr},
    {"empty", "", {}, nullptr},
    {"llama3_regex",
     "Hello   world!!\n\n  It'S 12345 CAN'T\t\tx\x0d\n?? ...\n",
     {15496, 220, 220,   995, 3228, 628, 220, 632, 6,   50,  220,  16,   17, 18,
      19,    20,  15628, 6,   51,   197, 197, 87,  201, 198, 3548, 2644, 198},
     nullptr},
};
const HfCase kGpt2Qwen2NfcCases[] = {
    {"composed",
     "Caf\xc3\xa9 \xc3\x85ngstr\xc3\xb6m",
     {34, 1878, 2634, 6184, 227, 782, 2536, 9101, 76},
     nullptr},
    {"decomposed",
     "Cafe\xcc\x81 A\xcc\x8angstro\xcc\x88m",
     {34, 1878, 2634, 6184, 227, 782, 2536, 9101, 76},
     "Caf\xc3\xa9 \xc3\x85ngstr\xc3\xb6m"},
    {"hangul_jamo",
     "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8 \xea\xb0\x80",
     {166, 108, 223, 220, 166, 108, 222},
     "\xea\xb0\x81 \xea\xb0\x80"},
    {"reorder",
     "a\xcc\x82\xcc\xa3 q\xcc\x87\xcc\xa3",
     {157, 118, 255, 10662, 136, 96, 136, 229},
     "\xe1\xba\xad q\xcc\xa3\xcc\x87"},
    {"angstrom_sign",
     "\xe2\x84\xab \xe2\x84\xa6",
     {127, 227, 7377, 102},
     "\xc3\x85 \xce\xa9"},
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The folder's tokenizer.json with the semantics of the `tokenizers`
// package (the file's own pipeline): tokenizer_config.json's settings but
// no tokenizer class, so no class-specific rebuild (transformers 5's
// LlamaTokenizer replaces the file's normalizer and pre-tokenizer, see
// LlamaClassFollowsTransformers5Pipeline). The recorded reference ids of
// the cases above are the file's.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadFileSemantics(
    const std::string& dir) {
  auto cfg = ReadTokenizerConfig(dir);
  if (!cfg.ok()) return cfg.status();
  cfg->tokenizer_class.clear();
  return ParseHfTokenizer(ReadFile(dir + "/tokenizer.json"), *cfg,
                          dir + "/tokenizer.json");
}

void ExpectCases(const Tokenizer& tok, const HfCase* begin, const HfCase* end) {
  for (const HfCase* c = begin; c != end; ++c) {
    EXPECT_EQ(tok.Encode(c->text), c->ids) << "case " << c->name;
    EXPECT_EQ(tok.Decode(c->ids), c->decoded ? c->decoded : c->text)
        << "case " << c->name;
  }
}

TEST(HfTokenizer, Llama2JsonMatchesReference) {
  QG_REQUIRE_SHARED(dir, "models/tokenizers/llama2");
  auto tok = LoadFileSemantics(dir);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->kind(), "hf-bpe-metaspace");
  EXPECT_EQ((*tok)->vocab_size(), 32000);
  EXPECT_EQ((*tok)->bos_id(), 1);
  EXPECT_EQ((*tok)->eos_id(), 2);
  ExpectCases(**tok, std::begin(kLlama2JsonCases), std::end(kLlama2JsonCases));
}

TEST(HfTokenizer, Llama2JsonAgreesWithSentencePieceOnWikiText) {
  QG_REQUIRE_SHARED(dir, "models/tokenizers/llama2");
  QG_REQUIRE_SHARED(wiki, "data/wikitext2/wiki.test.raw");
  auto json_tok = LoadFileSemantics(dir);
  ASSERT_TRUE(json_tok.ok()) << json_tok.status();
  auto spm_tok = LoadSentencePieceTokenizer(dir + "/tokenizer.model", {});
  ASSERT_TRUE(spm_tok.ok()) << spm_tok.status();
  for (const HfCase& c : kLlama2JsonCases) {
    if (std::string(c.name).rfind("special", 0) == 0) continue;
    EXPECT_EQ((*json_tok)->Encode(c.text), (*spm_tok)->Encode(c.text))
        << "case " << c.name;
  }
  // 64 KB of real text with headings, numbers, "@-@" and unicode.
  std::string text = ReadFile(wiki).substr(0, 64 * 1024);
  std::vector<int> a = (*json_tok)->Encode(text);
  std::vector<int> b = (*spm_tok)->Encode(text);
  EXPECT_GT(a.size(), 10000u);
  EXPECT_EQ(a, b);
  EXPECT_EQ((*json_tok)->Decode(a), text);
}

TEST(HfTokenizer, Gpt2MatchesReferenceWithoutBos) {
  QG_REQUIRE_SHARED(dir, "models/tokenizers/gpt2");
  auto tok = LoadTokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->kind(), "hf-bpe-byte-level");
  EXPECT_EQ((*tok)->vocab_size(), 50257);
  EXPECT_EQ((*tok)->bos_id(), 50256);
  EXPECT_EQ((*tok)->eos_id(), 50256);
  ExpectCases(**tok, std::begin(kGpt2Cases), std::end(kGpt2Cases));
}

TEST(HfTokenizer, SmolLm2MatchesReference) {
  QG_REQUIRE_SHARED(dir, "models/tokenizers/smollm2-135m-instruct");
  auto tok = LoadTokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), 49152);
  ExpectCases(**tok, std::begin(kSmolLm2Cases), std::end(kSmolLm2Cases));
}

TEST(HfTokenizer, MistralV03MatchesReference) {
  QG_REQUIRE_SHARED(dir, "models/tokenizers/mistral-7b-instruct-v0.3");
  auto tok = LoadTokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->kind(), "hf-bpe-metaspace");
  EXPECT_EQ((*tok)->vocab_size(), 32768);
  EXPECT_EQ((*tok)->bos_id(), 1);
  EXPECT_EQ((*tok)->eos_id(), 2);
  EXPECT_EQ((*tok)->IdToPiece(3), "[INST]");
  ExpectCases(**tok, std::begin(kMistralCases), std::end(kMistralCases));
}

uint64_t Fnv1a64OfIds(const std::vector<int>& ids) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (int id : ids) {
    auto v = static_cast<uint32_t>(id);
    for (int k = 0; k < 4; ++k, v >>= 8) {
      h ^= v & 0xFF;
      h *= 0x100000001b3ULL;
    }
  }
  return h;
}

// The whole WikiText-2 test file (1.29 MB) through each tokenizer.json: the
// token count and the FNV-1a-64 of the ids (as little-endian int32) equal the
// reference's (@huggingface/tokenizers 0.2.0, computed once; SmolLM2's from
// the Python tokenizers package 0.23.3, see below).
TEST(HfTokenizer, WholeWikiTextMatchesReference) {
  QG_REQUIRE_SHARED(wiki, "data/wikitext2/wiki.test.raw");
  QG_REQUIRE_SHARED(dir, "models/tokenizers");
  const std::string text = ReadFile(wiki);
  struct Expect {
    const char* name;
    size_t count;
    uint64_t fnv;
    std::vector<int> head;
  };
  const Expect kExpect[] = {
      {"llama2",
       332755,
       0xa8c58427d83fc5fbULL,
       {1, 29871, 353, 4755, 350, 5059, 357, 353, 29871, 13, 4755, 350}},
      {"gpt2",
       283287,
       0x6dabec2afa0f3fbaULL,
       {796, 5199, 347, 2852, 353, 796, 220, 198, 5199, 347, 2852, 353}},
      {"smollm2-135m-instruct",
       301948,
       // The tokenizers package 0.23.3 (Python); the JS port's
       // 0x155e8ad60138650f split only ASCII digits (DigitsSplitsEvery...).
       0x9f7c1c956cbd30b8ULL,
       {446, 6356, 389, 9226, 352, 446, 3717, 6356, 389, 9226, 352, 314}},
      {"mistral-7b-instruct-v0.3",
       325946,
       0x37e95051ac839875ULL,
       {1, 1095, 6374, 1133, 4387, 1128, 1095, 29473, 781, 6374, 1133, 4387}},
  };
  for (const Expect& e : kExpect) {
    auto tok = LoadFileSemantics(dir + "/" + e.name);
    ASSERT_TRUE(tok.ok()) << tok.status();
    std::vector<int> ids = (*tok)->Encode(text);
    EXPECT_EQ(ids.size(), e.count) << e.name;
    ASSERT_GE(ids.size(), e.head.size()) << e.name;
    EXPECT_EQ(std::vector<int>(ids.begin(), ids.begin() + e.head.size()),
              e.head)
        << e.name;
    EXPECT_EQ(Fnv1a64OfIds(ids), e.fnv) << e.name;
  }
}

// transformers 5's LlamaTokenizer keeps only the vocab, merges and
// post-processor of tokenizer.json and rebuilds the rest: no normalizer and
// Metaspace(prepend_scheme first | always (legacy: true) | never
// (add_prefix_space: false), split: false). qgrid used the file's legacy
// normalizer (Prepend + Replace), so " Hello" gained a second "▁" and text
// after a special token a "▁" that transformers' tokenizer(text) has not.
// Ids recorded with transformers 5.17.0 (AutoTokenizer on the llama2 folder
// with tokenizer_config.json as given, or legacy / add_prefix_space set).
TEST(HfTokenizer, LlamaClassFollowsTransformers5Pipeline) {
  QG_REQUIRE_SHARED(dir, "models/tokenizers/llama2");
  struct Case {
    const char* text;
    std::vector<int> first, always, never;
  };
  const Case kCases[] = {
      {" Hello world", {1, 15043, 3186}, {1, 15043, 3186}, {1, 15043, 3186}},
      {"  leading and trailing spaces  ",
       {1, 29871, 8236, 322, 25053, 8162, 259},
       {1, 29871, 8236, 322, 25053, 8162, 259},
       {1, 29871, 8236, 322, 25053, 8162, 259}},
      {"<s>Hello</s>world",
       {1, 1, 10994, 2, 11526},
       {1, 1, 15043, 2, 3186},
       {1, 1, 10994, 2, 11526}},
      {"Hi <s> there</s>",
       {1, 6324, 29871, 1, 727, 2},
       {1, 6324, 29871, 1, 727, 2},
       {1, 18567, 29871, 1, 727, 2}},
      {"a\n b", {1, 263, 13, 289}, {1, 263, 13, 289}, {1, 29874, 13, 289}},
      {"Hello", {1, 15043}, {1, 15043}, {1, 10994}},
  };
  auto cfg = ReadTokenizerConfig(dir);
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  ASSERT_EQ(cfg->tokenizer_class, "LlamaTokenizer");
  const std::string json = ReadFile(dir + "/tokenizer.json");
  TokenizerConfig legacy = *cfg, never = *cfg;
  legacy.legacy = true;
  never.add_prefix_space = false;
  auto first_tok = ParseHfTokenizer(json, *cfg, "llama2");
  auto always_tok = ParseHfTokenizer(json, legacy, "llama2");
  auto never_tok = ParseHfTokenizer(json, never, "llama2");
  ASSERT_TRUE(first_tok.ok() && always_tok.ok() && never_tok.ok());
  for (const Case& c : kCases) {
    EXPECT_EQ((*first_tok)->Encode(c.text), c.first) << c.text;
    EXPECT_EQ((*always_tok)->Encode(c.text), c.always) << c.text;
    EXPECT_EQ((*never_tok)->Encode(c.text), c.never) << c.text;
  }
  // LoadTokenizer reads the class from tokenizer_config.json.
  auto loaded = LoadTokenizer(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->Encode(" Hello world"),
            (std::vector<int>{1, 15043, 3186}));
  // Decoding strips the one prepended space, as transformers' decoder.
  EXPECT_EQ((*first_tok)->Decode({1, 15043, 3186}, true), "Hello world");
}

// The contract: const methods are safe to call concurrently.
TEST(Tokenizer, ConcurrentEncodeGivesTheSameIds) {
  QG_REQUIRE_SHARED(wiki, "data/wikitext2/wiki.test.raw");
  QG_REQUIRE_SHARED(dir, "models/tokenizers/llama2");
  const std::string text = ReadFile(wiki).substr(0, 32 * 1024);
  auto json_tok = LoadTokenizer(dir);
  ASSERT_TRUE(json_tok.ok()) << json_tok.status();
  auto spm_tok = LoadSentencePieceTokenizer(dir + "/tokenizer.model", {});
  ASSERT_TRUE(spm_tok.ok()) << spm_tok.status();
  for (const Tokenizer* tok : {json_tok->get(), spm_tok->get()}) {
    const std::vector<int> want = tok->Encode(text);
    std::vector<std::vector<int>> got(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int rep = 0; rep < 3; ++rep) got[t] = tok->Encode(text);
      });
    }
    for (auto& th : threads) th.join();
    for (const auto& g : got) EXPECT_EQ(g, want) << tok->kind();
  }
}

// GPT-2's vocabulary behind a Split pre-tokenizer with the LLaMA-3 / Qwen2
// regex (the layout of those models' tokenizer.json files).
std::string Gpt2WithSplitRegex(const std::string& gpt2_json,
                               const std::string& regex) {
  nlohmann::json j = nlohmann::json::parse(gpt2_json);
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"},
                           {"pattern", {{"Regex", regex}}},
                           {"behavior", "Isolated"},
                           {"invert", false}},
                          {{"type", "ByteLevel"},
                           {"add_prefix_space", false},
                           {"trim_offsets", true},
                           {"use_regex", false}}}}};
  return j.dump();
}

constexpr char kLlama3Regex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr char kQwen2Regex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

TEST(HfTokenizer, Llama3SplitRegexMatchesReference) {
  QG_REQUIRE_SHARED(path, "models/tokenizers/gpt2/tokenizer.json");
  auto tok = ParseHfTokenizer(Gpt2WithSplitRegex(ReadFile(path), kLlama3Regex),
                              {}, "gpt2+llama3-split");
  ASSERT_TRUE(tok.ok()) << tok.status();
  ExpectCases(**tok, std::begin(kGpt2Llama3SplitCases),
              std::end(kGpt2Llama3SplitCases));
}

TEST(HfTokenizer, Qwen2SplitRegexMatchesReference) {
  QG_REQUIRE_SHARED(path, "models/tokenizers/gpt2/tokenizer.json");
  auto tok = ParseHfTokenizer(Gpt2WithSplitRegex(ReadFile(path), kQwen2Regex),
                              {}, "gpt2+qwen2-split");
  ASSERT_TRUE(tok.ok()) << tok.status();
  ExpectCases(**tok, std::begin(kGpt2Qwen2SplitCases),
              std::end(kGpt2Qwen2SplitCases));
}

// Qwen2's layout: NFC normalizer, Qwen2 split regex, ByteLevel.
TEST(HfTokenizer, NfcNormalizerMatchesReference) {
  QG_REQUIRE_SHARED(path, "models/tokenizers/gpt2/tokenizer.json");
  nlohmann::json j =
      nlohmann::json::parse(Gpt2WithSplitRegex(ReadFile(path), kQwen2Regex));
  j["normalizer"] = {{"type", "NFC"}};
  auto tok = ParseHfTokenizer(j.dump(), {}, "gpt2+nfc+qwen2-split");
  ASSERT_TRUE(tok.ok()) << tok.status();
  ExpectCases(**tok, std::begin(kGpt2Qwen2NfcCases),
              std::end(kGpt2Qwen2NfcCases));
}

TEST(HfTokenizer, DecodeKeepsSpecialTokensWhenAsked) {
  QG_REQUIRE_SHARED(dir, "models/tokenizers/mistral-7b-instruct-v0.3");
  auto tok = LoadTokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.status();
  std::vector<int> ids = (*tok)->Encode("[INST] Hi [/INST]");
  EXPECT_EQ((*tok)->Decode(ids, /*skip_special_tokens=*/false),
            "<s>[INST] Hi [/INST]");
  EXPECT_EQ((*tok)->Encode("[INST] Hi", /*add_special_tokens=*/false).front(),
            3);
}

TEST(HfTokenizer, LlamaClassHonoursAddEosTokenFromConfig) {
  QG_REQUIRE_SHARED(path, "models/tokenizers/llama2/tokenizer.json");
  TokenizerConfig cfg;
  cfg.tokenizer_class = "LlamaTokenizer";
  cfg.add_bos_token = false;
  cfg.add_eos_token = true;
  auto tok = ParseHfTokenizer(ReadFile(path), cfg, path);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("Hello world"), (std::vector<int>{15043, 3186, 2}));
  EXPECT_EQ((*tok)->Encode("Hello world", false),
            (std::vector<int>{15043, 3186}));
}

// transformers' GPT2TokenizerFast applies tokenizer_config.json's
// add_prefix_space to the ByteLevel pre-tokenizer (" Hello" is 18435).
TEST(HfTokenizer, Gpt2ClassHonoursAddPrefixSpaceFromConfig) {
  QG_REQUIRE_SHARED(path, "models/tokenizers/gpt2/tokenizer.json");
  TokenizerConfig cfg;
  cfg.tokenizer_class = "GPT2Tokenizer";
  cfg.add_prefix_space = true;
  auto tok = ParseHfTokenizer(ReadFile(path), cfg, path);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("Hello world"), (std::vector<int>{18435, 995}));
  cfg.add_prefix_space = false;
  tok = ParseHfTokenizer(ReadFile(path), cfg, path);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("Hello world"), (std::vector<int>{15496, 995}));
}

TEST(HfTokenizer, UnsupportedComponentsAreErrorsNamingThem) {
  auto bad =
      ParseHfTokenizer(R"({"model": {"type": "WordPiece", "vocab": {}}})", {},
                       "x/tokenizer.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("x/tokenizer.json"), std::string::npos);
  EXPECT_NE(bad.status().message().find("WordPiece"), std::string::npos);

  auto regex = ParseHfTokenizer(
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
          "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "[a-z]+"},
                            "behavior": "Isolated", "invert": false}})",
      {}, "y.json");
  ASSERT_FALSE(regex.ok());
  EXPECT_NE(regex.status().message().find("[a-z]+"), std::string::npos);

  EXPECT_FALSE(ParseHfTokenizer("{not json", {}, "z.json").ok());
  EXPECT_FALSE(ParseHfTokenizer(R"({"model": {"type": "BPE", "vocab": {"a": 0},
      "merges": ["a b"]}})",
                                {}, "m.json")
                   .ok());  // merge of unknown tokens
}

// A Unigram tokenizer.json written without a "type" (tokenizers reads its
// models untagged) was read as BPE and refused with "model.vocab is missing
// or not an object"; the error must name the model type instead, with or
// without the field. WordPiece and WordLevel likewise.
TEST(HfTokenizer, UnsupportedModelTypeIsNamedWithOrWithoutTypeField) {
  const std::pair<const char*, const char*> kCases[] = {
      {R"({"model": {"type": "Unigram", "unk_id": 0, "byte_fallback": false,
          "vocab": [["<unk>", 0.0], ["a", -1.0]]}})",
       "Unigram"},
      {R"({"model": {"unk_id": 0, "vocab": [["<unk>", 0.0], ["a", -1.0]]}})",
       "Unigram"},
      {R"({"model": {"unk_token": "[UNK]", "continuing_subword_prefix": "##",
          "max_input_chars_per_word": 100, "vocab": {"[UNK]": 0, "a": 1}}})",
       "WordPiece"},
      {R"({"model": {"vocab": {"[UNK]": 0, "a": 1}, "unk_token": "[UNK]"}})",
       "WordLevel"},
  };
  for (const auto& [j, type] : kCases) {
    auto tok = ParseHfTokenizer(j, {}, "u/tokenizer.json");
    ASSERT_FALSE(tok.ok()) << j;
    const std::string msg(tok.status().message());
    EXPECT_NE(msg.find(absl::StrCat("unsupported model type '", type, "'")),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("u/tokenizer.json"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("model.vocab"), std::string::npos) << msg;
  }
}

// The Digits pre-tokenizer split only ASCII 0-9; tokenizers splits on
// char::is_numeric (every \p{N}), so "²³", "٣٤" or "ⅣⅤ" were kept whole
// (and merged) where tokenizers isolates each digit. Found on SmolLM2
// ("½¾ and ²³"). Ids from the tokenizers package 0.23.3 on this file.
TEST(HfTokenizer, DigitsSplitsEveryUnicodeNumber) {
  const std::string kJson = R"({"model": {"type": "BPE",
      "vocab": {"1": 0, "2": 1, "²": 2, "³": 3, "x": 4, "²³": 5, "12": 6,
                "٣": 7, "٤": 8, "٣٤": 9, "Ⅳ": 10, "Ⅴ": 11, "ⅣⅤ": 12,
                "³x": 13},
      "merges": ["1 2", "² ³", "٣ ٤", "Ⅳ Ⅴ", "³ x"]},
    "pre_tokenizer": {"type": "Digits", "individual_digits": INDIVIDUAL}})";
  struct Case {
    const char* text;
    std::vector<int> individual, contiguous;
  };
  const Case kCases[] = {
      {"12", {0, 1}, {6}},
      {"²³x", {2, 3, 4}, {5, 4}},
      {"٣٤", {7, 8}, {9}},
      {"ⅣⅤ", {10, 11}, {12}},
      {"x12³x", {4, 0, 1, 3, 4}, {4, 6, 3, 4}},
  };
  for (bool individual : {true, false}) {
    std::string j = kJson;
    j.replace(j.find("INDIVIDUAL"), 10, individual ? "true" : "false");
    auto tok = ParseHfTokenizer(j, {}, "digits.json");
    ASSERT_TRUE(tok.ok()) << tok.status();
    for (const Case& c : kCases) {
      EXPECT_EQ((*tok)->Encode(c.text, false),
                individual ? c.individual : c.contiguous)
          << c.text << " individual=" << individual;
    }
  }
}

// The Punctuation pre-tokenizer (was refused): ASCII punctuation includes
// symbols ("$"); Unicode punctuation is the unicode_categories crate's
// (U+2E5C, Unicode 14, is not; U+166D, Po before Unicode 12, is). Ids from
// the tokenizers package 0.23.3 on this file.
TEST(HfTokenizer, PunctuationFollowsTokenizersCategories) {
  const std::string kJson = R"({"model": {"type": "BPE", "unk_token": "<unk>",
      "vocab": {"<unk>": 0, "a": 1, "b": 2, ",": 3, "$": 4, "⹜": 5, "᙭": 6,
                "a,": 7, "a$": 8, "a⹜": 9, "a᙭": 10, "!": 11, "!!": 12},
      "merges": ["a ,", "a $", "a ⹜", "a ᙭", "! !"]},
    "pre_tokenizer": {"type": "Punctuation", "behavior": "BEHAVIOR"}})";
  struct Case {
    const char* text;
    std::vector<int> isolated, contiguous, removed;
  };
  const Case kCases[] = {
      {"a,b", {1, 3, 2}, {1, 3, 2}, {1, 2}},
      {"a$b", {1, 4, 2}, {1, 4, 2}, {1, 2}},
      {"a⹜b", {9, 2}, {9, 2}, {9, 2}},
      {"a᙭b", {1, 6, 2}, {1, 6, 2}, {1, 2}},
      {"a!!b", {1, 11, 11, 2}, {1, 12, 2}, {1, 2}},
  };
  for (const char* behavior : {"Isolated", "Contiguous", "Removed"}) {
    std::string j = kJson;
    j.replace(j.find("BEHAVIOR"), 8, behavior);
    auto tok = ParseHfTokenizer(j, {}, "punct.json");
    ASSERT_TRUE(tok.ok()) << tok.status();
    for (const Case& c : kCases) {
      const std::string b = behavior;
      EXPECT_EQ((*tok)->Encode(c.text, false), b == "Isolated" ? c.isolated
                                               : b == "Contiguous"
                                                   ? c.contiguous
                                                   : c.removed)
          << c.text << " " << behavior;
    }
  }
}

// The Whitespace pre-tokenizer (was refused): runs of \w and of [^\w\s],
// with Oniguruma's \w: "²" (No) is not a word character, "Ⓐ" (So,
// Alphabetic) and ZWJ (Join_Control) are. Ids from the tokenizers package
// 0.23.3 on this file.
TEST(HfTokenizer, WhitespaceSplitsWordAndOtherRunsAsOniguruma) {
  const std::string kJson = R"({"model": {"type": "BPE", "unk_token": "<unk>",
      "vocab": {"<unk>": 0, "a": 1, "b": 2, "²": 3, "a²": 4, "Ⓐ": 5, "Ⓐb": 6,
                ",": 7, "!": 8, "!!": 9, ",!": 10, "\u200d": 11,
                "a\u200d": 12, "a\u200db": 13, "_": 14, "a_": 15},
      "merges": ["a ²", "Ⓐ b", "! !", ", !", "a \u200d", "a\u200d b",
                 "a _"]},
    "pre_tokenizer": {"type": "Whitespace"}})";
  auto tok = ParseHfTokenizer(kJson, {}, "ws.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("a²b", false), (std::vector<int>{1, 3, 2}));
  EXPECT_EQ((*tok)->Encode("Ⓐb a", false), (std::vector<int>{6, 1}));
  EXPECT_EQ((*tok)->Encode("a,!! b", false), (std::vector<int>{1, 7, 9, 2}));
  EXPECT_EQ((*tok)->Encode("a\u200db", false), (std::vector<int>{13}));
  EXPECT_EQ((*tok)->Encode("a_b\u3000\u3000,", false),
            (std::vector<int>{15, 2, 7}));
}

TEST(HfTokenizer, MalformedFilesAreErrorsNotCrashes) {
  const char* kBad[] = {
      R"({"model": {"type": "BPE", "vocab": [1, 2], "merges": []}})",
      R"({"model": {"type": "BPE", "vocab": {"a": "x"}, "merges": []}})",
      R"({"model": {"type": "BPE", "vocab": {"a": 2147483647}, "merges": []}})",
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [7]}})",
      R"({"model": {"type": "BPE", "vocab": {"a": 0}}})",
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
          "added_tokens": [{"id": "x", "content": "b"}]})",
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
          "added_tokens": [{"id": -5, "content": "b"}]})",
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
          "post_processor": {"type": "TemplateProcessing",
                             "single": [{"SpecialToken": {"id": "<s>"}}],
                             "special_tokens": {"<s>": 3}}})",
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
          "normalizer": {"type": "Sequence", "normalizers": 5}})",
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
          "decoder": {"type": "Strip", "content": " ", "start": "x"}})",
      R"([1, 2, 3])",
      R"({"model": 3})",
  };
  for (const char* j : kBad) {
    auto tok = ParseHfTokenizer(j, {}, "bad.json");
    if (tok.ok()) {
      // Accepted leniently (e.g. a non-integer Strip count reads as 0): it
      // must still work.
      EXPECT_TRUE((*tok)->Encode("a").size() <= 1u) << j;
    } else {
      EXPECT_NE(tok.status().message().find("bad.json"), std::string::npos)
          << j;
    }
  }
}

TEST(HfTokenizer, TinyBpeMergesByRankAndFallsBackToBytes) {
  // Merges as ["a", "b"] pairs; "ab" + "c" outranks "b" + "c".
  const char* json = R"({
    "model": {"type": "BPE", "byte_fallback": true, "unk_token": "<unk>",
      "vocab": {"<unk>": 0, "<0xC3>": 1, "<0xA9>": 2, "a": 3, "b": 4,
                "c": 5, "ab": 6, "bc": 7, "abc": 8},
      "merges": [["a", "b"], ["b", "c"], ["ab", "c"]]},
    "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"},
                                                 {"type": "Fuse"}]}})";
  auto tok = ParseHfTokenizer(json, {}, "tiny.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("abc"), (std::vector<int>{8}));
  EXPECT_EQ((*tok)->Encode("bcab"), (std::vector<int>{7, 6}));
  EXPECT_EQ((*tok)->Encode("a\xc3\xa9"), (std::vector<int>{3, 1, 2}));
  EXPECT_EQ((*tok)->Decode({3, 1, 2}), "a\xc3\xa9");
  EXPECT_EQ((*tok)->Encode("x"), (std::vector<int>{0}));  // unk
  EXPECT_EQ((*tok)->Decode({1}), "\xef\xbf\xbd");         // lone byte: U+FFFD
}

// ignore_merges (LLaMA-3 sets it): a word that is itself in the vocab is one
// token even when the merges would not build it. Ids from the JS reference.
TEST(HfTokenizer, IgnoreMergesTakesWholeWordsFromTheVocab) {
  std::string json =
      R"({"model": {"type": "BPE", "ignore_merges": true, "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4, "bc": 5}, "merges": ["b c"]}, "pre_tokenizer": {"type": "WhitespaceSplit"}, "decoder": {"type": "Fuse"}, "normalizer": null, "post_processor": null, "added_tokens": []})";
  auto tok = ParseHfTokenizer(json, {}, "tiny1.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("abc ab"), (std::vector<int>{4, 3}));
  EXPECT_EQ((*tok)->Encode("cab"), (std::vector<int>{2, 0, 1}));
  nlohmann::json j = nlohmann::json::parse(json);
  j["model"]["ignore_merges"] = false;
  tok = ParseHfTokenizer(j.dump(), {}, "tiny1.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("abc ab"), (std::vector<int>{0, 5, 0, 1}));
}

// continuing_subword_prefix / end_of_word_suffix as tokenizers' BPE applies
// them (the merged token drops the second part's prefix). The JS port does
// not implement these, so the ids follow the Rust semantics.
TEST(HfTokenizer, SubwordPrefixAndWordSuffix) {
  auto tok = ParseHfTokenizer(
      R"({"model": {"type": "BPE", "continuing_subword_prefix": "##", "end_of_word_suffix": "</w>", "vocab": {"a": 0, "##b": 1, "##c</w>": 2, "ab": 3, "abc</w>": 4, "##b</w>": 5, "ab</w>": 6}, "merges": ["a ##b", "ab ##c</w>", "a ##b</w>"]}, "pre_tokenizer": {"type": "WhitespaceSplit"}, "decoder": {"type": "Fuse"}, "normalizer": null, "post_processor": null, "added_tokens": []})",
      {}, "tiny2.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("abc ab"), (std::vector<int>{4, 6}));
}

// lstrip/rstrip swallow the whitespace around an added token; single_word
// tokens match only between non-word characters (tokenizers' \w check; the
// JS port ignores single_word and would split "aab" as a + ab).
TEST(HfTokenizer, AddedTokenStripAndSingleWord) {
  auto tok = ParseHfTokenizer(
      R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, " ": 2}, "merges": []}, "added_tokens": [{"id": 3, "content": "<m>", "single_word": false, "lstrip": true, "rstrip": true, "normalized": false, "special": true}, {"id": 4, "content": "ab", "single_word": true, "lstrip": false, "rstrip": false, "normalized": false, "special": false}], "decoder": {"type": "Fuse"}, "normalizer": null, "post_processor": null, "pre_tokenizer": null})",
      {}, "tiny3.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("a  <m>  b ab aab"),
            (std::vector<int>{0, 3, 1, 2, 4, 2, 0, 0, 1}));
  EXPECT_EQ((*tok)->Encode("<m>ab"), (std::vector<int>{3, 4}));
  EXPECT_EQ((*tok)->Encode("b ab"), (std::vector<int>{1, 2, 4}));
}

// tokenizers' Metaspace decoder drops every "▁" of the first token and
// turns the others into spaces.
TEST(HfTokenizer, MetaspaceDecoder) {
  auto tok = ParseHfTokenizer(R"({
    "model": {"type": "BPE", "vocab": {"\u2581\u2581": 0, "\u2581a": 1,
                                       "b": 2}, "merges": []},
    "decoder": {"type": "Metaspace", "replacement": "\u2581",
                "prepend_scheme": "always", "split": true}})",
                              {}, "metaspace.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Decode({0, 1, 2, 0}), " ab  ");
  EXPECT_EQ((*tok)->Decode({1, 2}), "ab");
}

TEST(HfTokenizer, InvalidUtf8InputDoesNotCrash) {
  QG_REQUIRE_SHARED(dir, "models/tokenizers/gpt2");
  auto tok = LoadTokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.status();
  std::string bad = "ok \xff\xfe\xe6\x9c end";
  std::vector<int> ids = (*tok)->Encode(bad);
  EXPECT_FALSE(ids.empty());
  EXPECT_EQ((*tok)->Decode(ids).substr(0, 3), "ok ");
}

}  // namespace
}  // namespace qgrid::model
