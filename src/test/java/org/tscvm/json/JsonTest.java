package org.tscvm.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tscvm.TscvmException;

/** The one JSON reader and writer: QMP's messages and tscvm's traces. */
class JsonTest {
    @Test
    void readsEveryKindOfValueWithIntegersAsLongsAndTheRestExact() {
        Object v = Json.parse(" {\"a\": [1, -2, 3.5, 1e3, -2.5e3, 18446744073709551615, 18446744073709551616,"
                + " true, false, null], \"s\": \"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\"} ");
        assertThat(v).isEqualTo(Map.of(
                "a", Arrays.asList(1L, -2L, new BigDecimal("3.5"), new BigDecimal("1e3"), new BigDecimal("-2.5e3"),
                        new BigDecimal("18446744073709551615"), new BigDecimal("18446744073709551616"), true, false, null),
                "s", "q\"\\/\b\f\n\r\t\u00e9\u20ac"));
    }

    @Test
    void anUnsignedSixtyFourBitTscSurvivesExactly() {
        List<?> a = (List<?>) Json.parse("[18446744073709551615, 9223372036854775807]");
        assertThat(((BigDecimal) a.get(0)).toBigInteger().toString()).isEqualTo("18446744073709551615");
        assertThat(((Number) a.get(0)).longValue()).isEqualTo(-1L); // the same 64 bits, unsigned
        assertThat(a.get(1)).isEqualTo(Long.MAX_VALUE);
        assertThat(Json.decimal((Number) a.get(1))).isEqualTo(new BigDecimal("9223372036854775807"));
    }

    @Test
    void objectsKeepTheirMemberOrder() {
        Map<?, ?> map = (Map<?, ?>) Json.parse("{\"z\": 1, \"a\": 2, \"m\": 3}");
        assertThat(List.<Object>copyOf(map.keySet())).containsExactly("z", "a", "m");
    }

    @Test
    void qmpAlsoReadsSingleQuotedStringsAndTheirEscape() {
        assertThat(Json.parseQmp("{'single': 'it\\'s', \"double\": \"it\\'s\"}"))
                .isEqualTo(Map.of("single", "it's", "double", "it's"));
        assertThatThrownBy(() -> Json.parse("{'single': 1}")).isInstanceOf(JsonException.class);
        assertThatThrownBy(() -> Json.parse("\"it\\'s\"")).isInstanceOf(JsonException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "{", "{\"a\" 1}", "{\"a\": 1,}", "{\"a\":1,}", "[1,]", "[1 2]", "{a: 1}", "{a:1}",
        "01", "[01]", "1.", "[1.]", "[.5]", "-", "[-]", "[1e]", "[NaN]", "tru", "[tru]", "nul", "'x'",
        "\"unterminated", "\"tab\tinside\"", "\"bad \\x escape\"", "[\"\\x\"]", "\"\\u12g4\"", "{\"a\": 1} x",
        "[1] x", "{\"k\": 1, \"k\": 2}", "{\"a\":1,\"a\":2}"})
    void refusesWhatRfc8259RefusesWithTheOffset(String text) {
        assertThatThrownBy(() -> Json.parse(text)).isInstanceOf(JsonException.class).isInstanceOf(TscvmException.class)
                .hasMessageStartingWith("JSON parse error, ").hasMessageContaining(" at offset ");
    }

    @Test
    void theErrorNamesWhereReadingStopped() {
        JsonException e = (JsonException) org.assertj.core.api.Assertions.catchThrowable(
                () -> Json.parse("{\"a\": [1, 2,]}"));
        assertThat(e.offset()).isEqualTo(12);
        assertThat(e).hasMessage("JSON parse error, expecting value at offset 12");
    }

    @Test
    void nestingIsBounded() {
        String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        assertThat(Json.parse(ok)).isInstanceOf(List.class);
        String deep = "[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1);
        assertThatThrownBy(() -> Json.parse(deep)).hasMessageContaining("nested");
    }

    @Test
    void writesCompactAsciiAndPrettyFormsThatReadBack() {
        Map<String, Object> inner = new LinkedHashMap<>();
        inner.put("s", "é\n\"x\"");
        inner.put("n", List.of(1L, new BigDecimal("2.5"), new BigDecimal("18446744073709551615"), true));
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("return", inner);
        v.put("id", null);
        String compact = Json.write(v);
        assertThat(compact).isEqualTo("{\"return\": {\"s\": \"\\u00e9\\n\\\"x\\\"\", "
                + "\"n\": [1, 2.5, 18446744073709551615, true]}, \"id\": null}");
        assertThat(Json.parse(compact)).isEqualTo(v);
        String pretty = Json.writePretty(v);
        assertThat(pretty).contains("\n    \"return\": {\n        \"s\"");
        assertThat(Json.parse(pretty)).isEqualTo(v);
        assertThat(Json.write(Map.of())).isEqualTo("{}");
        assertThat(Json.write(List.of(2.5, Double.NaN, 7))).isEqualTo("[2.5, null, 7]");
    }
}
