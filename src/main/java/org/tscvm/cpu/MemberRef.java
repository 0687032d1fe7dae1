package org.tscvm.cpu;

import java.io.Serializable;
import java.lang.invoke.MethodHandleInfo;
import java.lang.invoke.SerializedLambda;
import java.lang.reflect.Method;

/**
 * A method that generated code calls, named by a serializable method reference (so javac checks
 * it and a rename cannot leave a stale name behind): the owner's internal name, the method's name
 * and descriptor, and whether it is static (else an instance method of the owner).
 */
record MemberRef(String owner, String name, String descriptor, boolean isStatic) {
    /** Resolves the method behind a serializable method reference (its {@link SerializedLambda}). */
    static MemberRef of(Serializable methodReference) {
        SerializedLambda s;
        try {
            Method writeReplace = methodReference.getClass().getDeclaredMethod("writeReplace");
            writeReplace.setAccessible(true);
            s = (SerializedLambda) writeReplace.invoke(methodReference);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("not a serializable method reference: " + methodReference, e);
        }
        int kind = s.getImplMethodKind();
        if (s.getImplMethodName().startsWith("lambda$")
                || (kind != MethodHandleInfo.REF_invokeStatic && kind != MethodHandleInfo.REF_invokeVirtual)) {
            throw new IllegalStateException("not a method reference to a static or final method: "
                    + s.getImplClass() + "." + s.getImplMethodName());
        }
        return new MemberRef(s.getImplClass(), s.getImplMethodName(), s.getImplMethodSignature(),
                kind == MethodHandleInfo.REF_invokeStatic);
    }
}
