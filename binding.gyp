{
  "targets": [
    {
      "target_name": "tidelog",
      "variables": { "tidelog_sanitize%": "false" },
      "sources": [
        "native/core/status.cc",
        "native/core/crc32c.cc",
        "native/core/file.cc",
        "native/core/mapped_file.cc",
        "native/core/index_file.cc",
        "native/core/batch.cc",
        "native/core/segment.cc",
        "native/core/log.cc",
        "native/core/dir_lock.cc",
        "native/core/head_file.cc",
        "native/core/verify.cc",
        "native/binding/addon.cc",
        "native/binding/errors.cc",
        "native/binding/log_handle.cc",
        "native/binding/verify_worker.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-O2"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        # The sanitizer build of `npm run test:asan` (scripts/test-asan.mjs): configured
        # with `node-gyp configure --tidelog_sanitize=true` in its own directory
        # (build-asan/), never in build/. The default build is untouched by this.
        ["tidelog_sanitize=='true'", {
          "cflags_cc!": ["-O3"],
          "cflags_cc": ["-O1", "-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"],
          "ldflags": ["-fsanitize=address,undefined"]
        }],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "GCC_OPTIMIZATION_LEVEL": "3"
          }
        }]
      ]
    }
  ]
}
