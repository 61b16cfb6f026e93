"""What every chat adapter shares, so each platform's folder holds only its translation.

adapter    `Adapter` (the plug-in entry the command line registers), `AdapterSettings`,
           and `Engine`, the one view of the engine adapters depend on
downloads  `fetch_file`: host-checked streaming downloads, redirects re-checked by hand,
           and the one `AttachmentUnavailable`
uploads    `UploadTooLarge` and `within_limit`: the too-large upload the engine answers with
           the link it already posted
split      `split_text`: long text cut on the softest boundary, in linear time
"""
