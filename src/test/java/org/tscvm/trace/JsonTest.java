package org.tscvm.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tscvm.TscvmException;

class JsonTest {
    @Test
    void readsObjectsArraysStringsNumbersAndLiteralsExactly() {
        Object value = Json.parse(" {\"a\": [1, -2.5e3, 18446744073709551615, true, false, null],"
                + " \"s\": \"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"} ");
        Map<?, ?> map = (Map<?, ?>) value;
        assertThat(List.<Object>copyOf(map.keySet())).containsExactly("a", "s");
        @SuppressWarnings("unchecked")
        List<Object> a = (List<Object>) map.get("a");
        assertThat(a.get(0)).isEqualTo(new BigDecimal("1"));
        assertThat(a.get(1)).isEqualTo(new BigDecimal("-2.5e3"));
        // An unsigned 64-bit TSC survives exactly.
        assertThat(((BigDecimal) a.get(2)).toBigInteger().toString()).isEqualTo("18446744073709551615");
        assertThat(a.subList(3, 6)).containsExactly(true, false, null);
        assertThat(map.get("s")).isEqualTo("q\"\\/\b\f\n\r\t\u00e9");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "[1,]", "{\"a\":1,}", "[01]", "[1.]", "[.5]", "[NaN]", "{a:1}", "[1] x",
        "\"tab\tinside\"", "[\"\\x\"]", "{\"a\":1,\"a\":2}", "[tru]", "[-]", "[1e]", "'x'", "[1 2]"})
    void refusesWhatRfc8259Refuses(String text) {
        assertThatThrownBy(() -> Json.parse(text)).isInstanceOf(TscvmException.class)
                .hasMessageContaining("malformed JSON at offset");
    }
}
