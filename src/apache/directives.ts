/**
 * The known-directive table: every directive and section of the modules
 * Debian's apache2 2.4 ships, with its module (the `mod_x.c` name httpd
 * reports) and where httpd allows it. Produced from `apache2 -L` with every
 * module in /usr/lib/apache2/modules loaded (mpm_event as the MPM), plus
 * mod_lwt's directives from its command table (all OR_OPTIONS).
 *
 * Entry format `Name/ctx`: a leading `<` marks a section; ctx is
 * `s` (server config and <VirtualHost> only), `a` (anywhere in *.conf) or
 * `d` (only inside <Directory>/<Files>/<Location>/<If>), followed by `h` when
 * .htaccess may also hold it. httpd looks directive names up case-insensitively.
 */

export type DirectiveContext = 'server' | 'any' | 'dir';

export interface DirectiveInfo {
  /** Canonical spelling, without `<` for sections. */
  readonly name: string;
  /** The module's source name as httpd reports it (`core.c`, `mod_alias.c`, `event.c`). */
  readonly module: string;
  readonly section: boolean;
  readonly context: DirectiveContext;
  readonly htaccess: boolean;
}

const TABLE: Record<string, readonly string[]> = {
  'core.c': [
    '<Directory/s', '<Location/s', '<VirtualHost/s', '<Files/ah', '<Limit/dh', '<LimitExcept/dh',
    '<IfModule/ah', '<IfDefine/ah', '<IfFile/ah', '<IfDirective/ah', '<IfSection/ah',
    '<DirectoryMatch/s', '<LocationMatch/s', '<FilesMatch/ah', 'AddDefaultCharset/ah',
    'AcceptPathInfo/ah', 'Define/a', 'UnDefine/a', 'Error/ah', '<If/ah', '<ElseIf/ah', '<Else/ah',
    'AccessFileName/s', 'DocumentRoot/s', 'ErrorDocument/ah', 'AllowOverride/d',
    'AllowOverrideList/d', 'Options/ah', 'DefaultType/ah', 'FileETag/ah', 'EnableMMAP/ah',
    'EnableSendfile/ah', 'ReadBufferSize/a', 'FlushMaxThreshold/s', 'FlushMaxPipelined/s',
    'Protocol/s', 'AcceptFilter/s', 'Port/s', 'HostnameLookups/a', 'ServerAdmin/s', 'ServerName/s',
    'ServerSignature/ah', 'ServerRoot/s', 'DefaultRuntimeDir/s', 'ErrorLog/s', 'ErrorLogFormat/s',
    'ServerAlias/s', 'ServerPath/s', 'Timeout/s', 'ContentDigest/ah', 'UseCanonicalName/a',
    'UseCanonicalPhysicalPort/a', 'Include/a', 'IncludeOptional/a', 'LogLevel/a',
    'NameVirtualHost/s', 'ServerTokens/s', 'LimitRequestLine/s', 'LimitRequestFieldsize/s',
    'LimitRequestFields/s', 'LimitRequestBody/ah', 'LimitXMLRequestBody/ah', 'Mutex/s',
    'MaxRanges/a', 'MaxRangeOverlaps/a', 'MaxRangeReversals/a', 'RLimitCPU/ah', 'RLimitMEM/ah',
    'RLimitNPROC/ah', 'RegexDefaultOptions/s', 'LimitInternalRecursion/s', 'CGIPassAuth/dh',
    'CGIVar/ah', 'QualifyRedirectURL/ah', 'StrictHostCheck/s', 'ForceType/ah', 'SetHandler/ah',
    'SetOutputFilter/ah', 'SetInputFilter/ah', 'AllowEncodedSlashes/s', 'ScoreBoardFile/s',
    'ExtendedStatus/s', 'SeeRequestTail/s', 'PidFile/s', 'MaxRequestsPerChild/s',
    'MaxConnectionsPerChild/s', 'CoreDumpDirectory/s', 'MaxMemFree/s', 'ThreadStackSize/s',
    'TraceEnable/s', 'MergeTrailers/s', 'Protocols/s', 'ProtocolsHonorOrder/s',
    'HttpProtocolOptions/s', 'RegisterHttpMethod/s', 'MergeSlashes/s',
  ],
  'mod_so.c': [
    'LoadModule/s', 'LoadFile/s',
  ],
  'mod_watchdog.c': [
    'WatchdogInterval/s',
  ],
  'http_core.c': [
    'KeepAliveTimeout/s', 'MaxKeepAliveRequests/s', 'KeepAlive/s',
  ],
  'mod_log_config.c': [
    'CustomLog/s', 'GlobalLog/s', 'TransferLog/s', 'LogFormat/s', 'BufferedLogs/s',
  ],
  'mod_logio.c': [
    'LogIOTrackTTFB/ah',
  ],
  'mod_version.c': [
    '<IfVersion/ah',
  ],
  'mod_unixd.c': [
    'User/s', 'Group/s', 'ChrootDir/s', 'Suexec/s',
  ],
  'mod_access_compat.c': [
    'order/dh', 'allow/dh', 'deny/dh', 'Satisfy/dh',
  ],
  'mod_actions.c': [
    'Action/ah', 'Script/a',
  ],
  'mod_alias.c': [
    'Alias/a', 'ScriptAlias/a', 'Redirect/ah', 'AliasMatch/s', 'ScriptAliasMatch/s',
    'RedirectMatch/ah', 'RedirectTemp/ah', 'RedirectPermanent/ah', 'RedirectRelative/ah',
    'AliasPreservePath/ah',
  ],
  'mod_allowmethods.c': [
    'AllowMethods/d',
  ],
  'mod_auth_basic.c': [
    'AuthBasicProvider/dh', 'AuthBasicAuthoritative/dh', 'AuthBasicFake/dh',
    'AuthBasicUseDigestAlgorithm/dh',
  ],
  'mod_auth_digest.c': [
    'AuthDigestProvider/dh', 'AuthDigestQop/dh', 'AuthDigestNonceLifetime/dh',
    'AuthDigestNcCheck/dh', 'AuthDigestAlgorithm/dh', 'AuthDigestDomain/dh',
    'AuthDigestShmemSize/s',
  ],
  'mod_auth_form.c': [
    'AuthFormProvider/dh', 'AuthFormUsername/dh', 'AuthFormPassword/dh', 'AuthFormLocation/dh',
    'AuthFormMethod/dh', 'AuthFormMimetype/dh', 'AuthFormBody/dh', 'AuthFormSize/d',
    'AuthFormLoginRequiredLocation/dh', 'AuthFormLoginSuccessLocation/dh',
    'AuthFormLogoutLocation/dh', 'AuthFormSitePassphrase/dh', 'AuthFormAuthoritative/dh',
    'AuthFormFakeBasicAuth/dh', 'AuthFormDisableNoStore/dh',
  ],
  'mod_authn_anon.c': [
    'Anonymous/dh', 'Anonymous_MustGiveEmail/dh', 'Anonymous_NoUserId/dh',
    'Anonymous_VerifyEmail/dh', 'Anonymous_LogEmail/dh',
  ],
  'mod_authn_core.c': [
    'AuthType/dh', 'AuthName/dh', '<AuthnProviderAlias/s',
  ],
  'mod_authn_dbd.c': [
    'AuthDBDUserPWQuery/d', 'AuthDBDUserRealmQuery/d',
  ],
  'mod_authn_dbm.c': [
    'AuthDBMUserFile/dh', 'AuthDBMType/dh',
  ],
  'mod_authn_file.c': [
    'AuthUserFile/dh',
  ],
  'mod_authn_socache.c': [
    'AuthnCacheSOCache/s', 'AuthnCacheEnable/s', 'AuthnCacheProvideFor/dh', 'AuthnCacheTimeout/dh',
    'AuthnCacheContext/d',
  ],
  'mod_authnz_fcgi.c': [
    'AuthnzFcgiDefineProvider/s', 'AuthnzFcgiCheckAuthnProvider/ah',
  ],
  'mod_authnz_ldap.c': [
    'AuthLDAPURL/dh', 'AuthLDAPBindDN/dh', 'AuthLDAPBindPassword/dh',
    'AuthLDAPBindAuthoritative/dh', 'AuthLDAPRemoteUserIsDN/dh', 'AuthLDAPRemoteUserAttribute/dh',
    'AuthLDAPCompareDNOnServer/dh', 'AuthLDAPSubGroupAttribute/dh', 'AuthLDAPSubGroupClass/dh',
    'AuthLDAPMaxSubGroupDepth/dh', 'AuthLDAPGroupAttribute/dh', 'AuthLDAPGroupAttributeIsDN/dh',
    'AuthLDAPDereferenceAliases/dh', 'AuthLDAPCharsetConfig/s', 'AuthLDAPAuthorizePrefix/dh',
    'AuthLDAPInitialBindAsUser/dh', 'AuthLDAPInitialBindPattern/dh', 'AuthLDAPSearchAsUser/dh',
    'AuthLDAPCompareAsUser/dh',
  ],
  'mod_authz_core.c': [
    '<AuthzProviderAlias/s', 'Require/dh', '<RequireAll/dh', '<RequireAny/dh', '<RequireNone/dh',
    'AuthMerging/dh', 'AuthzSendForbiddenOnFailure/dh',
  ],
  'mod_authz_dbd.c': [
    'AuthzDBDLoginToReferer/d', 'AuthzDBDQuery/d', 'AuthzDBDRedirectQuery/d',
  ],
  'mod_authz_dbm.c': [
    'AuthDBMGroupFile/dh', 'AuthzDBMType/dh',
  ],
  'mod_authz_groupfile.c': [
    'AuthGroupFile/dh',
  ],
  'mod_autoindex.c': [
    'AddIcon/ah', 'AddIconByType/ah', 'AddIconByEncoding/ah', 'AddAlt/ah', 'AddAltByType/ah',
    'AddAltByEncoding/ah', 'IndexOptions/ah', 'IndexOrderDefault/ah', 'IndexIgnore/ah',
    'IndexIgnoreReset/ah', 'AddDescription/ah', 'HeaderName/ah', 'ReadmeName/ah',
    'FancyIndexing/ah', 'DefaultIcon/ah', 'IndexStyleSheet/ah', 'IndexHeadInsert/ah',
  ],
  'mod_brotli.c': [
    'BrotliFilterNote/s', 'BrotliCompressionQuality/s', 'BrotliCompressionWindow/s',
    'BrotliCompressionMaxInputBlock/s', 'BrotliAlterETag/s',
  ],
  'mod_buffer.c': [
    'BufferSize/d',
  ],
  'mod_cache.c': [
    'CacheEnable/a', 'CacheDisable/a', 'CacheMaxExpire/a', 'CacheMinExpire/a',
    'CacheDefaultExpire/a', 'CacheQuickHandler/s', 'CacheIgnoreNoLastMod/a',
    'CacheIgnoreCacheControl/s', 'CacheStoreExpired/a', 'CacheStorePrivate/a',
    'CacheStoreNoStore/a', 'CacheIgnoreHeaders/s', 'CacheIgnoreQueryString/s',
    'CacheIgnoreURLSessionIdentifiers/s', 'CacheLastModifiedFactor/a', 'CacheLock/s',
    'CacheLockPath/s', 'CacheLockMaxAge/s', 'CacheHeader/a', 'CacheDetailHeader/a',
    'CacheKeyBaseURL/s', 'CacheStaleOnError/a',
  ],
  'mod_cache_disk.c': [
    'CacheRoot/s', 'CacheDirLevels/s', 'CacheDirLength/s', 'CacheMinFileSize/a',
    'CacheMaxFileSize/a', 'CacheReadSize/a', 'CacheReadTime/a',
  ],
  'mod_cache_socache.c': [
    'CacheSocache/s', 'CacheSocacheMaxTime/a', 'CacheSocacheMinTime/a', 'CacheSocacheMaxSize/a',
    'CacheSocacheReadSize/a', 'CacheSocacheReadTime/a',
  ],
  'mod_case_filter.c': [
    'CaseFilter/s',
  ],
  'mod_case_filter_in.c': [
    'CaseFilterIn/s',
  ],
  'mod_cern_meta.c': [
    'MetaFiles/ah', 'MetaDir/ah', 'MetaSuffix/ah',
  ],
  'mod_cgi.c': [
    'ScriptLog/s', 'ScriptLogLength/s', 'ScriptLogBuffer/s', 'CGIScriptTimeout/a',
  ],
  'mod_cgid.c': [
    'ScriptLog/s', 'ScriptLogLength/s', 'ScriptLogBuffer/s', 'ScriptSock/s', 'CGIDScriptTimeout/a',
  ],
  'mod_charset_lite.c': [
    'CharsetSourceEnc/ah', 'CharsetDefault/ah', 'CharsetOptions/ah',
  ],
  'mod_dav.c': [
    'DAV/d', 'DAVBasePath/d', 'DAVMinTimeout/a', 'DAVDepthInfinity/a', 'DAVLockDiscovery/a',
  ],
  'mod_dav_fs.c': [
    'DAVLockDB/s',
  ],
  'mod_dav_lock.c': [
    'DAVGenericLockDB/d',
  ],
  'mod_dbd.c': [
    'DBDriver/s', 'DBDParams/s', 'DBDPersist/s', 'DBDPrepareSQL/s', 'DBDInitSQL/s', 'DBDMin/s',
    'DBDKeep/s', 'DBDMax/s', 'DBDExptime/s',
  ],
  'mod_deflate.c': [
    'DeflateFilterNote/s', 'DeflateWindowSize/s', 'DeflateBufferSize/s', 'DeflateMemLevel/s',
    'DeflateCompressionLevel/s', 'DeflateInflateLimitRequestBody/ah',
    'DeflateInflateRatioLimit/ah', 'DeflateInflateRatioBurst/ah', 'DeflateAlterEtag/s',
  ],
  'mod_dialup.c': [
    'ModemStandard/d',
  ],
  'mod_dir.c': [
    'FallbackResource/ah', 'DirectoryIndex/ah', 'DirectorySlash/ah', 'DirectoryCheckHandler/ah',
    'DirectoryIndexRedirect/ah',
  ],
  'mod_dumpio.c': [
    'DumpIOInput/s', 'DumpIOOutput/s',
  ],
  'mod_echo.c': [
    'ProtocolEcho/s',
  ],
  'mod_env.c': [
    'PassEnv/ah', 'SetEnv/ah', 'UnsetEnv/ah',
  ],
  'mod_expires.c': [
    'ExpiresActive/ah', 'ExpiresByType/ah', 'ExpiresDefault/ah',
  ],
  'mod_ext_filter.c': [
    'ExtFilterOptions/d', 'ExtFilterDefine/s',
  ],
  'mod_file_cache.c': [
    'cachefile/s', 'mmapfile/s',
  ],
  'mod_filter.c': [
    'FilterDeclare/ah', 'FilterProvider/ah', 'FilterChain/ah', 'FilterTrace/a',
    'AddOutputFilterByType/ah', 'FilterProtocol/ah',
  ],
  'mod_headers.c': [
    'Header/ah', 'RequestHeader/ah',
  ],
  'mod_heartbeat.c': [
    'HeartbeatAddress/s',
  ],
  'mod_heartmonitor.c': [
    'HeartbeatListen/s', 'HeartbeatStorage/s', 'HeartbeatMaxServers/s',
  ],
  'mod_http2.c': [
    'H2MaxSessionStreams/s', 'H2WindowSize/s', 'H2MinWorkers/s', 'H2MaxWorkers/s',
    'H2MaxWorkerIdleSeconds/s', 'H2StreamMaxMemSize/s', 'H2SerializeHeaders/s',
    'H2ModernTLSOnly/s', 'H2Upgrade/ah', 'H2Direct/s', 'H2SessionExtraFiles/s',
    'H2TLSWarmUpSize/s', 'H2TLSCoolDownSecs/s', 'H2Push/ah', 'H2PushPriority/s',
    'H2PushDiarySize/s', 'H2CopyFiles/ah', 'H2PushResource/ah', 'H2EarlyHints/s', 'H2Padding/s',
    'H2OutputBuffering/s', 'H2StreamTimeout/s', 'H2MaxDataFrameLen/s', 'H2MaxHeaderBlockLen/s',
    'H2MaxStreamErrors/s', 'H2EarlyHint/ah', 'H2ProxyRequests/ah', 'H2WebSockets/s',
  ],
  'mod_ident.c': [
    'IdentityCheck/a', 'IdentityCheckTimeout/a',
  ],
  'mod_imagemap.c': [
    'ImapMenu/ah', 'ImapDefault/ah', 'ImapBase/ah',
  ],
  'mod_include.c': [
    'XBitHack/ah', 'SSIErrorMsg/ah', 'SSITimeFormat/ah', 'SSIStartTag/s', 'SSIEndTag/s',
    'SSIUndefinedEcho/ah', 'SSILegacyExprParser/dh', 'SSILastModified/dh', 'SSIEtag/dh',
  ],
  'mod_info.c': [
    'AddModuleInfo/s',
  ],
  'mod_lbmethod_heartbeat.c': [
    'HeartbeatStorage/s',
  ],
  'util_ldap.c': [
    'LDAPSharedCacheSize/s', 'LDAPSharedCacheFile/s', 'LDAPCacheEntries/s', 'LDAPCacheTTL/s',
    'LDAPOpCacheEntries/s', 'LDAPOpCacheTTL/s', 'LDAPTrustedGlobalCert/s',
    'LDAPTrustedClientCert/dh', 'LDAPTrustedMode/s', 'LDAPVerifyServerCert/s',
    'LDAPConnectionTimeout/s', 'LDAPReferrals/dh', 'LDAPReferralHopLimit/dh', 'LDAPLibraryDebug/s',
    'LDAPTimeout/s', 'LDAPConnectionPoolTTL/s', 'LDAPRetries/s', 'LDAPRetryDelay/s',
  ],
  'mod_log_debug.c': [
    'LogMessage/a',
  ],
  'mod_log_forensic.c': [
    'ForensicLog/s',
  ],
  'mod_lua.c': [
    'LuaRoot/ah', 'LuaPackagePath/ah', 'LuaPackageCPath/ah', 'LuaAuthzProvider/s',
    'LuaHookPreTranslateName/ah', '<LuaHookPreTranslateName/ah', 'LuaHookTranslateName/ah',
    '<LuaHookTranslateName/ah', 'LuaHookFixups/ah', '<LuaHookFixups/ah', 'LuaHookMapToStorage/ah',
    '<LuaHookMapToStorage/ah', 'LuaHookCheckUserID/ah', '<LuaHookCheckUserID/ah',
    'LuaHookTypeChecker/ah', '<LuaHookTypeChecker/ah', 'LuaHookAccessChecker/ah',
    '<LuaHookAccessChecker/ah', 'LuaHookAuthChecker/ah', '<LuaHookAuthChecker/ah',
    'LuaHookInsertFilter/ah', 'LuaHookLog/ah', 'LuaScope/ah', 'LuaInherit/ah', 'LuaCodeCache/ah',
    'LuaQuickHandler/ah', '<LuaQuickHandler/ah', 'LuaMapHandler/ah',
    'LuaOutputFilter/ah', 'LuaInputFilter/ah',
  ],
  'mod_macro.c': [
    '<Macro/ah', 'Use/ah', 'UndefMacro/ah', 'MacroIgnoreEmptyArgs/ah', 'MacroIgnoreBadNesting/ah',
  ],
  'mod_md.c': [
    'MDCertificateAuthority/s', 'MDCertificateAgreement/s', 'MDCAChallenges/s',
    'MDCertificateProtocol/s', 'MDContactEmail/s', 'MDDriveMode/s', 'MDRenewMode/s', 'MDomain/s',
    '<MDomainSet/s', '<MDomain/s', 'MDMember/s', 'MDMembers/s', 'MDMustStaple/s', 'MDPortMap/s',
    'MDPrivateKeys/s', 'MDHttpProxy/s', 'MDStoreDir/s', 'MDRenewWindow/s', 'MDRequireHttps/ah',
    'MDNotifyCmd/s', 'MDBaseServer/s', 'MDChallengeDns01/s', 'MDChallengeDns01Version/s',
    'MDCertificateFile/s', 'MDCertificateKeyFile/s', 'MDServerStatus/s', 'MDCertificateStatus/s',
    'MDWarnWindow/s', 'MDMessageCmd/s', 'MDStapling/s', 'MDStapleOthers/s',
    'MDStaplingKeepResponse/s', 'MDStaplingRenewWindow/s', 'MDCertificateCheck/s',
    'MDActivationDelay/s', 'MDCACertificateFile/s', 'MDHttpProxyCACertificateFile/s',
    'MDExternalAccountBinding/s', 'MDRetryDelay/s', 'MDRetryFailover/s', 'MDStoreLocks/s',
    'MDMatchNames/s', 'MDInitialDelay/s', 'MDCheckInterval/s', 'MDProfile/s',
    'MDProfileMandatory/s', 'MDRenewViaARI/s',
  ],
  'mod_mime.c': [
    'AddCharset/ah', 'AddEncoding/ah', 'AddHandler/ah', 'AddInputFilter/ah', 'AddLanguage/ah',
    'AddOutputFilter/ah', 'AddType/ah', 'DefaultLanguage/ah', 'MultiviewsMatch/ah',
    'RemoveCharset/ah', 'RemoveEncoding/ah', 'RemoveHandler/ah', 'RemoveInputFilter/ah',
    'RemoveLanguage/ah', 'RemoveOutputFilter/ah', 'RemoveType/ah', 'TypesConfig/s',
    'ModMimeUsePathInfo/d',
  ],
  'mod_mime_magic.c': [
    'MimeMagicFile/s',
  ],
  'event.c': [
    'ListenBacklog/s', 'ListenCoresBucketsRatio/s', 'Listen/s', 'SendBufferSize/s',
    'ReceiveBufferSize/s', 'ListenTCPDeferAccept/s', 'StartServers/s', 'ServerLimit/s',
    'MinSpareThreads/s', 'MaxSpareThreads/s', 'MaxClients/s', 'MaxRequestWorkers/s',
    'ThreadsPerChild/s', 'ThreadLimit/s', 'AsyncRequestWorkerFactor/s',
    'GracefulShutdownTimeout/s',
  ],
  'mod_negotiation.c': [
    'CacheNegotiatedDocs/s', 'LanguagePriority/ah', 'ForceLanguagePriority/ah',
  ],
  'mod_proxy.c': [
    '<Proxy/s', '<ProxyMatch/s', 'ProxyRequests/s', 'ProxyRemote/s', 'ProxyRemoteMatch/s',
    'ProxyPassInterpolateEnv/a', 'ProxyPass/a', 'ProxyPassMatch/a', 'ProxyPassReverse/a',
    'ProxyPassReverseCookiePath/a', 'ProxyPassReverseCookieDomain/a', 'ProxyBlock/s',
    'ProxyReceiveBufferSize/s', 'ProxyIOBufferSize/s', 'ProxyMaxForwards/s', 'NoProxy/s',
    'ProxyDomain/s', 'ProxyVia/s', 'ProxyErrorOverride/a', 'ProxyPreserveHost/a', 'ProxyTimeout/s',
    'ProxyBadHeader/s', 'BalancerMember/a', 'BalancerGrowth/s', 'BalancerPersist/s',
    'BalancerInherit/s', 'ProxyPassInherit/s', 'ProxyStatus/s', 'ProxySet/a',
    'ProxySourceAddress/s', 'ProxyAddHeaders/a', 'Proxy100Continue/a',
  ],
  'mod_proxy_connect.c': [
    'AllowCONNECT/s',
  ],
  'mod_proxy_express.c': [
    'ProxyExpressEnable/ah', 'ProxyExpressDBMFile/ah', 'ProxyExpressDBMType/ah',
  ],
  'mod_proxy_fcgi.c': [
    'ProxyFCGIBackendType/ah', 'ProxyFCGISetEnvIf/ah',
  ],
  'mod_proxy_ftp.c': [
    'ProxyFtpListOnWildcard/a', 'ProxyFtpEscapeWildcards/a', 'ProxyFtpDirCharset/a',
  ],
  'mod_proxy_hcheck.c': [
    'ProxyHCTemplate/ah', 'ProxyHCExpr/ah', 'ProxyHCTPsize/s',
  ],
  'mod_proxy_html.c': [
    'ProxyHTMLEvents/a', 'ProxyHTMLLinks/a', 'ProxyHTMLURLMap/a', 'ProxyHTMLDoctype/a',
    'ProxyHTMLFixups/a', 'ProxyHTMLMeta/a', 'ProxyHTMLInterp/a', 'ProxyHTMLExtended/a',
    'ProxyHTMLStripComments/a', 'ProxyHTMLBufSize/a', 'ProxyHTMLCharsetOut/a', 'ProxyHTMLEnable/a',
  ],
  'mod_proxy_scgi.c': [
    'ProxySCGISendfile/a', 'ProxySCGIInternalRedirect/a',
  ],
  'mod_proxy_wstunnel.c': [
    'ProxyWebsocketFallbackToProxyHttp/a',
  ],
  'mod_reflector.c': [
    'ReflectorHeader/ah',
  ],
  'mod_remoteip.c': [
    'RemoteIPHeader/s', 'RemoteIPProxiesHeader/s', 'RemoteIPTrustedProxy/s',
    'RemoteIPInternalProxy/s', 'RemoteIPTrustedProxyList/s', 'RemoteIPInternalProxyList/s',
    'RemoteIPProxyProtocol/s', 'RemoteIPProxyProtocolExceptions/s',
  ],
  'mod_reqtimeout.c': [
    'RequestReadTimeout/s',
  ],
  'mod_request.c': [
    'KeptBodySize/d',
  ],
  'mod_rewrite.c': [
    'RewriteEngine/ah', 'RewriteOptions/ah', 'RewriteBase/ah', 'RewriteCond/ah', 'RewriteRule/ah',
    'RewriteMap/s',
  ],
  'mod_sed.c': [
    'OutputSed/d', 'InputSed/d',
  ],
  'mod_session.c': [
    'Session/ah', 'SessionMaxAge/ah', 'SessionHeader/ah', 'SessionEnv/ah', 'SessionInclude/ah',
    'SessionExclude/ah', 'SessionExpiryUpdateInterval/ah',
  ],
  'mod_session_cookie.c': [
    'SessionCookieName/ah', 'SessionCookieName2/ah', 'SessionCookieRemove/ah',
  ],
  'mod_session_crypto.c': [
    'SessionCryptoPassphrase/ah', 'SessionCryptoPassphraseFile/a', 'SessionCryptoCipher/ah',
    'SessionCryptoDriver/s',
  ],
  'mod_session_dbd.c': [
    'SessionDBDSelectLabel/ah', 'SessionDBDInsertLabel/ah', 'SessionDBDUpdateLabel/ah',
    'SessionDBDDeleteLabel/ah', 'SessionDBDPerUser/ah', 'SessionDBDCookieRemove/ah',
    'SessionDBDCookieName/ah', 'SessionDBDCookieName2/ah',
  ],
  'mod_setenvif.c': [
    'SetEnvIf/ah', 'SetEnvIfNoCase/ah', 'SetEnvIfExpr/ah', 'BrowserMatch/ah',
    'BrowserMatchNoCase/ah',
  ],
  'mod_socache_memcache.c': [
    'MemcacheConnTTL/s',
  ],
  'mod_socache_redis.c': [
    'RedisConnPoolTTL/s', 'RedisTimeout/s',
  ],
  'mod_speling.c': [
    'CheckSpelling/ah', 'CheckCaseOnly/ah', 'CheckBasenameMatch/ah',
  ],
  'mod_ssl.c': [
    'SSLPassPhraseDialog/s', 'SSLSessionCache/s', 'SSLCryptoDevice/s', 'SSLRandomSeed/s',
    'SSLVHostSNIPolicy/s', 'SSLEngine/s', 'SSLFIPS/s', 'SSLCipherSuite/ah', 'SSLCertificateFile/s',
    'SSLCertificateKeyFile/s', 'SSLCertificateChainFile/s', 'SSLSessionTicketKeyFile/s',
    'SSLCACertificatePath/ah', 'SSLCACertificateFile/ah', 'SSLCADNRequestPath/s',
    'SSLCADNRequestFile/s', 'SSLCARevocationPath/s', 'SSLCARevocationFile/s',
    'SSLCARevocationCheck/s', 'SSLVerifyClient/ah', 'SSLVerifyDepth/ah',
    'SSLSessionCacheTimeout/s', 'SSLProtocol/s', 'SSLHonorCipherOrder/s', 'SSLCompression/s',
    'SSLSessionTickets/s', 'SSLInsecureRenegotiation/s', 'SSLUserName/ah',
    'SSLStrictSNIVHostCheck/s', 'SSLSRPVerifierFile/s', 'SSLSRPUnknownUserSeed/s',
    'SSLProxyEngine/s', 'SSLProxyProtocol/s', 'SSLProxyCipherSuite/s', 'SSLProxyVerify/s',
    'SSLProxyVerifyDepth/s', 'SSLProxyCACertificateFile/s', 'SSLProxyCACertificatePath/s',
    'SSLProxyCARevocationPath/s', 'SSLProxyCARevocationFile/s', 'SSLProxyCARevocationCheck/s',
    'SSLProxyMachineCertificateFile/s', 'SSLProxyMachineCertificatePath/s',
    'SSLProxyMachineCertificateChainFile/s', 'SSLProxyCheckPeerExpire/s', 'SSLProxyCheckPeerCN/s',
    'SSLProxyCheckPeerName/s', 'SSLOptions/ah', 'SSLRequireSSL/dh', 'SSLRequire/dh',
    'SSLRenegBufferSize/dh', 'SSLOCSPEnable/s', 'SSLOCSPDefaultResponder/s',
    'SSLOCSPOverrideResponder/s', 'SSLOCSPResponseTimeSkew/s', 'SSLOCSPResponseMaxAge/s',
    'SSLOCSPResponderTimeout/s', 'SSLOCSPUseRequestNonce/s', 'SSLOCSPProxyURL/s',
    'SSLOCSPNoVerify/s', 'SSLOCSPResponderCertificateFile/s', 'SSLStaplingCache/s',
    'SSLUseStapling/s', 'SSLStaplingResponseTimeSkew/s', 'SSLStaplingResponderTimeout/s',
    'SSLStaplingResponseMaxAge/s', 'SSLStaplingStandardCacheTimeout/s',
    'SSLStaplingReturnResponderErrors/s', 'SSLStaplingFakeTryLater/s',
    'SSLStaplingErrorCacheTimeout/s', 'SSLStaplingForceURL/s', 'SSLOpenSSLConfCmd/s', 'SSLLog/ah',
    'SSLLogLevel/ah',
  ],
  'mod_substitute.c': [
    'Substitute/ah', 'SubstituteMaxLineLength/ah', 'SubstituteInheritBefore/ah',
  ],
  'mod_suexec.c': [
    'SuexecUserGroup/s',
  ],
  'mod_userdir.c': [
    'UserDir/s',
  ],
  'mod_usertrack.c': [
    'CookieExpires/ah', 'CookieDomain/ah', 'CookieStyle/ah', 'CookieTracking/ah', 'CookieName/ah',
    'CookieSameSite/ah', 'CookieSecure/ah', 'CookieHttpOnly/ah',
  ],
  'mod_vhost_alias.c': [
    'VirtualScriptAlias/s', 'VirtualDocumentRoot/s', 'VirtualScriptAliasIP/s',
    'VirtualDocumentRootIP/s',
  ],
  'mod_xml2enc.c': [
    'xml2EncDefault/ah', 'xml2EncAlias/s', 'xml2StartParse/ah',
  ],
  'mod_lwt.c': [
    'LuaPath/ah', 'LuaCPath/ah', 'LuaErrorOutput/ah', 'LuaHandler/ah', 'LuaPreHook/ah', 'LuaPostHook/ah',
    'LuaMaxArgs/ah', 'LuaArgsLimit/ah', 'LuaFileLimit/ah', 'LuaMemoryLimit/ah',
  ],
};

const CONTEXTS: Record<string, DirectiveContext> = { s: 'server', a: 'any', d: 'dir' };

function build(): { directives: Map<string, DirectiveInfo>; sections: Map<string, DirectiveInfo> } {
  const directives = new Map<string, DirectiveInfo>();
  const sections = new Map<string, DirectiveInfo>();
  for (const [module, entries] of Object.entries(TABLE)) {
    for (const entry of entries) {
      const slash = entry.lastIndexOf('/');
      const spec = entry.slice(slash + 1);
      const section = entry.startsWith('<');
      const name = entry.slice(section ? 1 : 0, slash);
      const info: DirectiveInfo = Object.freeze({
        name, module, section, context: CONTEXTS[spec[0]!]!, htaccess: spec.includes('h'),
      });
      const map = section ? sections : directives;
      // The first module that declares a name wins, as in httpd's module order.
      if (!map.has(name.toLowerCase())) map.set(name.toLowerCase(), info);
    }
  }
  return { directives, sections };
}

const { directives: DIRECTIVES, sections: SECTIONS } = build();

/** A plain directive by name (case-insensitive). */
export function findDirective(name: string): DirectiveInfo | undefined {
  return DIRECTIVES.get(name.toLowerCase());
}

/** A section by name without `<` (case-insensitive). */
export function findSection(name: string): DirectiveInfo | undefined {
  return SECTIONS.get(name.toLowerCase());
}

/** Every entry, for tools and tests. */
export function allDirectives(): DirectiveInfo[] {
  return [...DIRECTIVES.values(), ...SECTIONS.values()];
}
