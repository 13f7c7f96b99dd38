{
  "targets": [
    {
      "target_name": "torch_napi",
      "sources": [
        "<!@(node -p \"require('fs').readdirSync('native').filter(f => f.endsWith('.cc')).map(f => 'native/' + f).join(' ')\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node install/find-libtorch.js --include)"
      ],
      "defines": [
        "NAPI_EXPERIMENTAL",
        "NAPI_VERSION=2147483647",
        "NODE_ADDON_API_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "<!@(node install/find-libtorch.js --defines)"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++20"],
      "cflags_cc": ["-idirafter<(module_root_dir)/native/compat", "-std=c++17", "-fexceptions", "-frtti", "-fvisibility=hidden", "-Wno-deprecated-declarations", "-Wno-unused-function", "-Wno-sign-compare", "-fno-trapping-math"],
      "libraries": [
        "-L<!(node install/find-libtorch.js --libdir)",
        "-Wl,--no-as-needed",
        "<!@(node install/find-libtorch.js --libs)",
        "-Wl,--as-needed",
        "-ldl",
        "-Wl,-rpath,<!(node install/find-libtorch.js --libdir)"
      ]
    }
  ]
}
